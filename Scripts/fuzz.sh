#!/usr/bin/env bash
# Builds the libFuzzer harness (Fuzz/) with the fuzzer and address sanitizers,
# seeds a corpus from the committed batch vectors, and fuzzes for $1 seconds
# (default 600) with $2 jobs (default 1). Crashes land in .build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
jobs="${2:-1}"
scratch="$PWD/.build-fuzz"

swift build --package-path Fuzz --scratch-path "$scratch" -c release \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

corpus="$scratch/corpus"
mkdir -p "$corpus" "$scratch/artifacts"
python3 - "$corpus" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
vectors = json.loads(pathlib.Path("Tests/Vectors/batch-vectors.json").read_text())["vectors"]
for v in vectors:
    cose = bytes.fromhex(v["cose"])
    (out / f"seed-{v['name']}").write_bytes(cose)
    if "payload" in v:
        (out / f"seed-{v['name']}-payload").write_bytes(bytes.fromhex(v["payload"]))
PY

parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
echo "fuzz: running for ${seconds}s with $jobs job(s) on $(ls "$corpus" | wc -l) corpus inputs"
# Run from the scratch folder: with several jobs libFuzzer writes fuzz-N.log to the working directory.
cd "$scratch"
"$scratch/release/FuzzBatchVerifier" "$corpus" \
  -max_total_time="$seconds" -max_len=70000 -timeout=10 -rss_limit_mb=4096 \
  "${parallel[@]}" -artifact_prefix="$scratch/artifacts/" -print_final_stats=1
