#!/usr/bin/env python3
"""Writes the measured tables of docs/PERFORMANCE.md (between its
`<!-- bench:begin -->` and `<!-- bench:end -->` markers) from the outputs
of one `make bench` run in DIR: devnet-probe.json, devnet-tenth.json,
devnet-full.json, devnet-chaos.json, limits.json and package-benchmark.md."""
import datetime, json, os, platform, sys

out, document = sys.argv[1], sys.argv[2]
full = json.load(open(os.path.join(out, "devnet-full.json")))
tenth = json.load(open(os.path.join(out, "devnet-tenth.json")))
probe = json.load(open(os.path.join(out, "devnet-probe.json")))
chaos = json.load(open(os.path.join(out, "devnet-chaos.json")))
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


def met(ok):
    return "yes" if ok else "**no**"


def targets():
    """The targets of issue 14, before (measured 2026-12-04 on this machine, release build) and now."""
    p = probe["probe_latency_ms"]
    t_produced = tenth["throughput"]["steady_produced_transfers_per_second"] or tenth["throughput"]["produced_transfers_per_second"]
    t_p99 = tenth["latency_ms"]["p99"]
    f_final = full["throughput"]["steady_final_transfers_per_second"] or full["throughput"]["final_transfers_per_second"]
    f_p99 = full["latency_ms"]["p99"]
    kills, lost = chaos["chaos"]["total_kills"], chaos["transfers"]["lost"] + chaos["transfers"]["duplicated"]
    chaos_minutes = chaos["throughput"]["load_seconds"] / 60
    return [
        "| figure | before (2026-12-04) | now | goal | met |",
        "|---|---|---|---|---|",
        f"| one device, publish to `final`, p50 on loopback (p99) | 88 ms (92) | {p['p50']:.1f} ms ({p['p99']:.1f}) | ≤ 10 ms | {met(p['p50'] <= 10)} |",
        f"| devnet at 5,000 offered: produced after ramp-up / p99 | 4,137/s / 928 ms | {n(t_produced)}/s / {t_p99:.0f} ms | ≥ 4,750/s / ≤ 100 ms | "
        f"{met(t_produced >= 4750)} / {met(t_p99 <= 100)} |",
        f"| devnet, 50,000 offered, 1,000 devices: final after ramp-up / p99 | 27,197/s / 1,671 ms | {n(f_final)}/s / {f_p99:.0f} ms | "
        f"≥ 50,000/s / ≤ 1,000 ms | {met(f_final >= 50000)} / {met(f_p99 <= 1000)} |",
        f"| chaos: kills survived in one {chaos_minutes:.0f}-minute run, nothing lost | 2 (`--kill-at`) | {kills} kills "
        f"({', '.join(f'{k} {v}' for k, v in chaos['chaos']['kills'].items())}), lost or doubled {lost} | ≥ 100, 0 lost | "
        f"{met(kills >= 100 and lost == 0 and chaos['passed'])} |",
    ]


batches_per_second = full["throughput"]["final_transfers_per_second"] / full["settings"]["batch"]
lines = [
    f"Measured by `make bench` on {datetime.date.today().isoformat()}: {limits['cores']} cores, {platform.machine()}, "
    f"{platform.system()} {platform.release()}; every figure below comes from that one run.",
    "",
    "**Targets** (issue 14; the before column is the issue's own measurement):",
    "",
    *targets(),
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
    f"| fdatasync of a 4 KiB append, one after another | {n(limits['fdatasync_per_second'])}/s | "
    f"a device spool syncs once per batch: the 1,000 simulated devices at 500 batches/s use about "
    f"{500 / limits['fdatasync_per_second'] * 100:.0f}% of it |",
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
