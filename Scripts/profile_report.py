#!/usr/bin/env python3
"""Where the CPU time of a devnet run goes, from a system-wide `perf record -g`.

Reads `perf script` output of a recording made by Scripts/devnet-profile.sh and
prints, as markdown: each component's share of all samples, then per component
its self time by category (Ed25519 in libsodium, SQLite, the kernel by system
call, memory management, Swift concurrency, Kognita's own modules, ...).

Processes are told apart by their exec events: the first `kognita` is the
devnet with its simulated devices; every `kognita-node` is a validator (a
restarted one included), `kognita-bridge` the bridge, `mosquitto` the broker.
Libsodium is stripped and keeps no frame pointers, so its time is counted as
one category (the nodes' and the bridge's is nearly all verification; the
devices' is signing).
"""
import collections
import re
import subprocess
import sys

data = sys.argv[1] if len(sys.argv) > 1 else "perf.data"

component = {0: "idle"}
events = subprocess.run(["perf", "script", "-i", data, "--show-task-events"], capture_output=True, text=True).stdout
for match in re.finditer(r"PERF_RECORD_COMM exec: (\S+):(\d+)/", events):
    name, pid = match.group(1), int(match.group(2))
    if name == "kognita" and "devices" not in component.values():
        component[pid] = "devices"
    elif name == "kognita-node":
        component[pid] = "validators (4)"
    elif name == "kognita-bridge":
        component[pid] = "bridge"
    elif name == "mosquitto":
        component[pid] = "broker (mosquitto)"

samples = []
script = subprocess.run(["perf", "script", "-i", data, "-F", "pid,ip,sym,dso"], capture_output=True, text=True).stdout
for line in script.splitlines():
    if line and not line.startswith("\t"):
        samples.append([int(line.split()[0]), []])
    elif line.startswith("\t") and samples:
        frame = re.match(r"\s*[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$", line)
        if frame:
            samples[-1][1].append((frame.group(1), frame.group(2).split("/")[-1]))

MEMORY = ("malloc", "free", "cfree", "realloc", "_int_malloc", "_int_free", "_int_realloc", "malloc_consolidate",
          "unlink_chunk.constprop.0", "swift_allocObject", "swift_deallocObject", "swift_retain", "swift_release",
          "swift_bridgeObjectRetain", "swift_bridgeObjectRelease", "swift_retain_n", "swift_release_n")


def category(stack):
    symbol, dso = stack[0]
    if "kernel" in dso:
        calls = [s for s, _ in stack if s.startswith("__x64_sys_") or s.startswith("__do_sys_")]
        if calls:
            return "kernel: " + calls[-1].replace("__x64_sys_", "").replace("__do_sys_", "")
        if any("irq" in s for s, _ in stack):
            return "kernel: interrupts"
        return "kernel: other (scheduler, page faults)"
    if dso.startswith("libsodium"):
        return "Ed25519 and hashes (libsodium)"
    if "sqlite" in dso or "GRDB" in symbol:
        return "SQLite and GRDB"
    if symbol in MEMORY:
        return "memory (malloc, reference counts)"
    if dso.startswith("libmosquitto") or dso == "mosquitto":
        return "mosquitto"
    if dso.startswith("libssl") or dso.startswith("libcrypto"):
        return "OpenSSL"
    if "dispatch" in dso or symbol.startswith(("_dispatch", "swift_task", "swift_job", "$sSc")) or "Executor" in symbol:
        return "Swift concurrency and Dispatch"
    if "NIO" in symbol:
        return "SwiftNIO"
    for module in ("KognitaCore", "KognitaLedger", "KognitaNode", "KognitaBridge", "KognitaAgent", "KognitaMQTT",
                   "Hummingbird", "Prometheus"):
        if module in symbol:
            return module
    if dso.startswith("libc"):
        return "libc (memcpy and the like)"
    if symbol.startswith(("$s", "swift", "_ZN5swift")):
        return "Swift standard library and runtime"
    return "other"


totals = collections.Counter()
by_category = collections.defaultdict(collections.Counter)
for pid, stack in samples:
    name = component.get(pid, "other processes")
    totals[name] += 1
    if stack:
        by_category[name][category(stack)] += 1

everything = sum(totals.values())
print(f"{everything:,} samples on both cores.\n")
print("| component | share of all CPU samples |\n|---|---|")
for name, count in totals.most_common():
    print(f"| {name} | {100 * count / everything:.1f}% |")
top = int(sys.argv[2]) if len(sys.argv) > 2 else 8
for name, count in totals.most_common():
    if name in ("idle", "other processes"):
        continue
    print(f"\n**{name}** ({100 * count / everything:.1f}% of the machine): self time by category\n")
    print("| category | share of this component |\n|---|---|")
    for what, n in by_category[name].most_common(top):
        print(f"| {what} | {100 * n / count:.1f}% |")
