#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/) with the fuzzer and address
# sanitizers and runs each for $1 seconds (default 600) with $2 jobs (default
# 1): FuzzBatchVerifier (the device contract, versions 1 and 2, seeded from the
# committed vectors), FuzzEpochMessages (seal reports, proposals, checkpoint
# votes, signed checkpoints, header chains and bodies, seeded with signed
# samples the harness writes) and FuzzPeerMessages (every peer frame).
# Crashes land in .build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
jobs="${2:-1}"
scratch="$PWD/.build-fuzz"

swift build --package-path Fuzz --scratch-path "$scratch" -c release \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

corpus="$scratch/corpus"
epoch_corpus="$scratch/corpus-epochs"
peer_corpus="$scratch/corpus-peers"
mkdir -p "$corpus" "$epoch_corpus" "$peer_corpus" "$scratch/artifacts"
python3 - "$corpus" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
for file in ["Tests/Vectors/batch-vectors.json", "Tests/Vectors/batch-vectors-v2.json"]:
    vectors = json.loads(pathlib.Path(file).read_text())["vectors"]
    for v in vectors:
        cose = bytes.fromhex(v["cose"])
        (out / f"seed-{v['name']}").write_bytes(cose)
        if v.get("payload"):
            (out / f"seed-{v['name']}-payload").write_bytes(bytes.fromhex(v["payload"]))
PY

parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
# Run from the scratch folder: with several jobs libFuzzer writes fuzz-N.log to the working directory.
cd "$scratch"
run() {
  local harness="$1" corpus="$2"
  echo "fuzz: $harness for ${seconds}s with $jobs job(s) on $(ls "$corpus" | wc -l) corpus inputs"
  "$scratch/release/$harness" "$corpus" \
    -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=4096 \
    "${parallel[@]}" -artifact_prefix="$scratch/artifacts/$harness-" -print_final_stats=1
}
run FuzzBatchVerifier "$corpus"
# The epoch harness writes its signed seeds first (and fuzzes nothing with -runs=0).
KOGNITA_FUZZ_SEEDS="$epoch_corpus" "$scratch/release/FuzzEpochMessages" -runs=0 "$epoch_corpus" > /dev/null 2>&1 || true
run FuzzEpochMessages "$epoch_corpus"
run FuzzPeerMessages "$peer_corpus"
