#!/usr/bin/env bash
# A system-wide CPU profile of a full-load devnet run: where the time goes.
#   Scripts/devnet-profile.sh [SECONDS] [RATE]   (defaults: 30 s, 50,000 tx/s)
# Needs perf (linux-perf) and root or kernel.perf_event_paranoid <= -1; builds
# in release mode first. Writes .build/profile/perf.data, the devnet's summary
# and report, and prints the breakdown from Scripts/profile_report.py.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-30}"
RATE="${2:-50000}"
command -v perf >/dev/null || { echo "perf is missing: sudo apt-get install linux-perf" >&2; exit 1; }
swift build -c release
OUT=.build/profile
mkdir -p "$OUT"
# 299 Hz keeps the recording small and its own cost low (a few percent).
perf record -q -F 299 -a -g -o "$OUT/perf.data" -- \
  .build/release/kognita devnet --rate "$RATE" --duration "$SECONDS_TO_RUN" --report "$OUT/report.json" > "$OUT/devnet.txt"
sed -n '/^Kognita devnet:/,$p' "$OUT/devnet.txt"
echo
python3 Scripts/profile_report.py "$OUT/perf.data" 8
