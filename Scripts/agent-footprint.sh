#!/usr/bin/env bash
# Measures the agent's footprint as issue 3 defines it: the device build
# (Embedded Swift, Scripts/build-agent-embedded.sh: the standard library is
# compiled into the binary; KOGNITA_AGENT_BUILD=swiftpm measures the SwiftPM
# release build with the static Swift stdlib instead), streaming 1,000 transfers per
# second from simulated sensors for DURATION seconds (default 60) against a
# local mosquitto, with a bridge acking every batch final. Reports peak RSS
# (VmHWM), CPU time per 1,000 transfers, and the stripped binary size.
# Extra flags for the SwiftPM build can be passed in KOGNITA_RELEASE_FLAGS, e.g.
#   KOGNITA_AGENT_BUILD=swiftpm KOGNITA_RELEASE_FLAGS="-Xswiftc -Osize" Scripts/agent-footprint.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60}"
SCRATCH="$PWD/.build-release"
PYTHON="${KOGNITA_PYTHON:-$PWD/.build-venv/bin/python}"

BUILD="${KOGNITA_AGENT_BUILD:-embedded}"
if [ "$BUILD" = embedded ]; then
    mkdir -p .build-embedded
    if ! Scripts/build-agent-embedded.sh >.build-embedded/build.log 2>&1; then cat .build-embedded/build.log >&2; exit 1; fi
    BIN="$PWD/.build-embedded/kognita-agent"
    LABEL="Embedded Swift"
else
    LABEL="SwiftPM release, static Swift stdlib"
    swift build -c release --product kognita-agent --static-swift-stdlib --scratch-path "$SCRATCH" ${KOGNITA_RELEASE_FLAGS:-} >/dev/null
    BIN="$SCRATCH/release/kognita-agent"
fi
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
strip -o "$WORK/kognita-agent" "$BIN"
# Written back before the run: pages of a file not yet on disk count as dirty.
sync "$WORK/kognita-agent"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'user %s\nlistener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$(id -un)" "$PORT" > "$WORK/mosquitto.conf"
/usr/sbin/mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
sleep 0.5
"$PYTHON" Scripts/footprint_bridge.py "$PORT" >"$WORK/bridge.log" 2>&1 &
sleep 0.5

# 100 simulated meters read 10 times a second, one transfer per reading: 1,000 transfers/s.
{
  printf '[agent]\nnetwork = "kognita-devnet"\nkey = "file:%s/state/device.key"\nstate_directory = "%s/state"\n' "$WORK" "$WORK"
  printf '[broker]\nport = %s\n[batch]\nmax_transfers = 1024\nmax_bytes = 65536\nmax_delay_ms = 2000\n' "$PORT"
  for i in $(seq 1 100); do
    printf '[[sensor]]\nid = "meter-%s"\nkind = "simulated"\nrate = 50\npoll_ms = 100\n' "$i"
    printf '[[rule]]\nid = "rule-%s"\nsensor = "meter-%s"\nrecipient = "%s"\nevery = 1\nprice = 1\nhourly_cap = 1000000000000\n' "$i" "$i" "$(printf '3d%.0s' $(seq 1 32))"
  done
} > "$WORK/agent.toml"

"$WORK/kognita-agent" run -c "$WORK/agent.toml" 2>"$WORK/agent.log" &
AGENT=$!
sleep "$DURATION"
HWM_KB=$(awk '/VmHWM/ {print $2}' /proc/$AGENT/status)
# Where the resident memory is: anonymous (heap, stacks: the agent's own) against
# file-backed (code and read-only data of the binary and its libraries, clean
# pages the kernel maps ahead of use and can drop at any time), and the private
# dirty total, which is the memory the agent really withholds from the system.
ANON_KB=$(awk '/RssAnon/ {print $2}' /proc/$AGENT/status)
FILE_KB=$(awk '/RssFile/ {print $2}' /proc/$AGENT/status)
DIRTY_KB=$(awk '/^Private_Dirty/ {print $2}' /proc/$AGENT/smaps_rollup)
EXE_KB=$(awk -v exe="$WORK/kognita-agent" '/^[0-9a-f]+-/ {mine = ($6 == exe)} mine && /^Rss:/ {sum += $2} END {print sum + 0}' /proc/$AGENT/smaps)
read -r UTIME STIME < <(awk '{print $14, $15}' /proc/$AGENT/stat)
TICKS=$(getconf CLK_TCK)
kill -TERM $AGENT; wait $AGENT || true
PRODUCED=$(sed -n 's/.*"transfers_produced":\([0-9]*\).*/\1/p' "$WORK/state/status.json")
FINAL=$(sed -n 's/.*"batches_final":\([0-9]*\).*/\1/p' "$WORK/state/status.json")
PENDING=$(sed -n 's/.*"pending_batches":\([0-9]*\).*/\1/p' "$WORK/state/status.json")
CPU_MS=$(( (UTIME + STIME) * 1000 / TICKS ))
SIZE=$(stat -c %s "$WORK/kognita-agent")
echo "agent footprint over ${DURATION}s ($LABEL, $(uname -m)):"
echo "  transfers produced:        $PRODUCED ($(( PRODUCED / DURATION )) per second); batches final: $FINAL; pending at stop: $PENDING"
echo "  peak RSS (VmHWM):          $(( HWM_KB / 1024 )).$(( HWM_KB % 1024 * 10 / 1024 )) MiB ($HWM_KB KiB)"
echo "    of which anonymous:      $ANON_KB KiB; file-backed: $FILE_KB KiB (the agent binary's own pages: $EXE_KB KiB); private dirty: $DIRTY_KB KiB"
echo "  CPU time:                  ${CPU_MS} ms total, $(( CPU_MS * 1000 / (PRODUCED > 0 ? PRODUCED : 1) )) ms per 1,000 transfers"
echo "  stripped binary:           $(( SIZE / 1024 / 1024 )).$(( SIZE % (1024*1024) * 10 / (1024*1024) )) MiB ($SIZE bytes)"
echo "  dynamic libraries:         $(ldd "$WORK/kognita-agent" | awk '{print $1}' | tr '\n' ' ')"
