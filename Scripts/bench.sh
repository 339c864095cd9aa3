#!/usr/bin/env bash
# `make bench`: every figure of docs/PERFORMANCE.md, measured in one run on
# this machine, then written into its tables:
#   1. the package-benchmark suites (Benchmarks/: codecs, signatures, ledger);
#   2. this machine's limits (Scripts/bench_limits.py: libsodium Ed25519
#      verify, mosquitto QoS 1 with its own C clients, SQLite batch rows, fsync);
#   3. one device, one batch at a time, publish to final: the devnet's latency
#      probe on a quiet network (10 devices offered 10 transfers/s);
#   4. two devnet runs of 60 s, 4 validators, 1 broker, 1 bridge and 1,000
#      devices: 10% of the target load (5,000 transfers/s offered, with the
#      probe) and the full target load (50,000);
#   5. chaos: the devnet at its defaults for BENCH_CHAOS_SECONDS (600) with
#      --chaos 5, counting the kills it survived with nothing lost.
# The raw outputs stay in .build/bench/ (JSON reports, benchmark text).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/.build/bench"
python="${KOGNITA_PYTHON:-python3}"
seconds="${BENCH_DEVNET_SECONDS:-60}"
mkdir -p "$out"
cd "$repo"

echo "bench: package-benchmark suites (release build)"
(cd Benchmarks && swift package --disable-sandbox benchmark --no-progress --format markdown) | tee "$out/package-benchmark.md"

echo "bench: this machine's limits"
"$python" Scripts/bench_limits.py | tee "$out/limits.json"

chaos_seconds="${BENCH_CHAOS_SECONDS:-600}"
swift build -c release
echo "bench: one device, one batch at a time, on a quiet devnet (30 s)"
.build/release/kognita devnet --devices 10 --rate 10 --duration 30 --probe --report "$out/devnet-probe.json" | tail -25
echo "bench: devnet at 10% of the target load (${seconds} s)"
.build/release/kognita devnet --devices 1000 --rate 5000 --batch 64 --duration "$seconds" --probe --report "$out/devnet-tenth.json" | tail -25
echo "bench: devnet at the full target load (${seconds} s)"
.build/release/kognita devnet --devices 1000 --rate 50000 --batch 64 --duration "$seconds" --report "$out/devnet-full.json" | tail -25
echo "bench: chaos, a SIGKILL every 5 s +-50% for ${chaos_seconds} s"
.build/release/kognita devnet --duration "$chaos_seconds" --chaos 5 --report "$out/devnet-chaos.json" | tail -25

"$python" Scripts/performance_table.py "$out" docs/PERFORMANCE.md
echo "bench: docs/PERFORMANCE.md updated from $out"
