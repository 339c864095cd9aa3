#!/usr/bin/env python3
"""Writes the measured tables of docs/PERFORMANCE.md (between its
`<!-- bench:begin -->` and `<!-- bench:end -->` markers) from the outputs
of one `make bench` run in DIR: devnet-full.json, devnet-tenth.json,
limits.json and package-benchmark.md."""
import datetime, json, os, platform, sys

out, document = sys.argv[1], sys.argv[2]
full = json.load(open(os.path.join(out, "devnet-full.json")))
tenth = json.load(open(os.path.join(out, "devnet-tenth.json")))
limits = json.load(open(os.path.join(out, "limits.json")))
package = open(os.path.join(out, "package-benchmark.md")).read().strip()


def n(value):
    return f"{value:,.0f}"


def component(report, kind):
    rows = [c for c in report["components"] if c["kind"] == kind]
    return sum(c["cpu_seconds"] for c in rows), max((c["peak_rss_bytes"] for c in rows), default=0) / 1048576


def run_row(name, report):
    t, l, x = report["throughput"], report["latency_ms"], report["transfers"]
    return (f"| {name} | {n(report['settings']['offered_transfers_per_second'])} | {n(t['produced_transfers_per_second'])} | "
            f"{n(t['final_transfers_per_second'])} | {l['p50']:.0f} | {l['p90']:.0f} | {l['p99']:.0f} | "
            f"{l['max']:.0f} | {x['lost']} | {x['duplicated']} | {'yes' if report['ledger']['identical'] else 'NO'} | "
            f"{'yes' if report['ledger']['money_conserved'] else 'NO'} |")


def usage_rows(report):
    seconds = report["throughput"]["load_seconds"] + report["throughput"]["drain_seconds"]
    rows = []
    for kind, label in [("node", "4 validators (each)"), ("bridge", "bridge"), ("broker", "mosquitto"), ("devices", "1,000 devices (one process)")]:
        cpu, rss = component(report, kind)
        count = max(1, len([c for c in report["components"] if c["kind"] == kind]))
        rows.append(f"| {label} | {cpu / count:.1f} | {cpu / count / seconds * 100:.0f}% | {rss:.0f} |")
    return rows


batches_per_second = full["throughput"]["final_transfers_per_second"] / full["settings"]["batch"]
lines = [
    f"Measured by `make bench` on {datetime.date.today().isoformat()}: {limits['cores']} cores, {platform.machine()}, "
    f"{platform.system()} {platform.release()}; every figure below comes from that one run.",
    "",
    "**Kognita end to end** (`kognita devnet`: 4 validators, 1 mosquitto, 1 bridge, 1,000 simulated devices, batches of up to 64, "
    f"{full['throughput']['load_seconds']:.0f} s of load, all on this machine):",
    "",
    "| run | offered tx/s | produced tx/s | final tx/s | p50 ms | p90 ms | p99 ms | max ms | lost | duplicated | ledgers identical | money conserved |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    run_row("full target load", full),
    run_row("10% of it", tenth),
    "",
    "CPU seconds per process during the full-load run (load and drain), share of one core, and peak RSS:",
    "",
    "| process | CPU s | of one core | peak RSS MiB |",
    "|---|---|---|---|",
    *usage_rows(full),
    "",
    "**This machine's limits**, measured in the same run (`Scripts/bench_limits.py`):",
    "",
    "| limit | measured | what it means for Kognita |",
    "|---|---|---|",
    f"| libsodium Ed25519 verify, {limits['batch_bytes']}-byte message, one core | {n(limits['ed25519_verifies_per_second_one_core'])}/s | "
    f"each batch is verified by the bridge and by 4 nodes, and each node verifies 3 votes per vote round: "
    f"at {batches_per_second:,.0f} batches/s the verifies alone take about "
    f"{batches_per_second * 5 / limits['ed25519_verifies_per_second_one_core']:.2f} cores |",
    f"| mosquitto QoS 1, {limits['batch_bytes']}-byte messages, its own C clients | {n(limits['mosquitto_qos1_messages_per_second'])} msg/s | "
    f"= {n(limits['mosquitto_qos1_messages_per_second'] * 64)} transfers/s in 64-transfer batches with nothing else running |",
    f"| SQLite, batch-sized rows, 64 per transaction, WAL + fsync | {n(limits['sqlite_batch_rows_per_second'])} rows/s | "
    f"= {n(limits['sqlite_batch_rows_per_second'] * 64)} transfers/s per node in 64-transfer batches |",
    "",
    "<details><summary>package-benchmark suites (same run)</summary>",
    "",
    package,
    "",
    "</details>",
]
text = open(document).read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
head, _, rest = text.partition(begin)
_, _, tail = rest.partition(end)
open(document, "w").write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)
