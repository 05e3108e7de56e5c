#!/usr/bin/env python3
"""Medians of bench/run.sh's raw JSON lines -> latest.json and a Markdown table with the peer
figures (the OpenTelemetry JS SDK and the Python SDK measured with the same workloads on the
same machine type, README, Performance) as ratios."""
import json, platform, statistics, subprocess, sys, datetime

raw_path, micro_path, json_out, md_out = sys.argv[1:5]
rows = [json.loads(l) for l in open(raw_path) if l.strip().startswith("{")]

def group(**match):
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]

def med(rs, field):
    vals = [r[field] for r in rs if field in r]
    return statistics.median(vals) if vals else None

PEERS = {  # the peers' figures (medians of 7 runs on this machine type)
    "w1_ns": {"opentelemetry-cpp": 2135, "otel-js": 1561},
    "w2_ns": {"opentelemetry-cpp": 127, "otel-js": 773},
    "w3_pb_per_s": {"opentelemetry-cpp": 67.6e3, "otel-js": 160.6e3},
    "w3_json_per_s": {"opentelemetry-cpp": 36.2e3, "otel-js": 157.2e3},
    "w3_pb_cpu": {"opentelemetry-cpp": 21.8, "otel-js": 6.94},
}

res = {}
base = med(group(bench="span_overhead", mode="baseline"), "ns_per_span")
for m in ("w1", "w2", "w2e"):
    g = group(bench="span_overhead", mode=m)
    net = med(g, "net_ns_per_span")   # paired with the bare loop in the same run (span_overhead)
    res[m] = {"ns_per_span": med(g, "ns_per_span"), "net_ns_per_span": net if net is not None else med(g, "ns_per_span") - base,
              "bare_ns_per_span": med(g, "bare_ns_per_span"),
              "dropped": med(g, "dropped"), "cpu_s": med(g, "cpu_s"), "peak_rss_kib": med(g, "peak_rss_kib"), "runs": len(g)}
res["baseline"] = {"ns_per_span": base}
for enc in ("protobuf", "json"):
    for m in ("unthrottled", "backpressure"):
        g = [r for r in group(bench="w3_export", encoding=enc, mode=m) if not r.get("spool")]
        res[f"w3_{enc}_{m}"] = {k: med(g, k) for k in ("delivered_per_s", "cpu_s_per_m_delivered", "cpu_s_per_m_produced",
                                                      "dropped", "ns_per_span", "peak_rss_kib")} | {"runs": len(g)}
g = group(bench="w3_export", encoding="protobuf", mode="backpressure", spool=True)
res["w3_protobuf_backpressure_spool"] = {k: med(g, k) for k in ("delivered_per_s", "cpu_s_per_m_delivered", "dropped")} | {"runs": len(g)}
g = group(bench="redaction_throughput")
res["w4"] = {k: med(g, k) for k in ("mb_per_s", "recall", "precision")} | {"runs": len(g)}
def paired(off, on, field, op):
    """Median over rounds of op(on, off): each round ran off and on back to back."""
    by_round = {r.get("round"): r for r in off}
    vals = [op(r[field], by_round[r.get("round")][field]) for r in on if r.get("round") in by_round]
    return statistics.median(vals) if vals else None

for d in (0, 20):
    off = group(bench="w5_gateway", delay_ms=d, tracing="off")
    for mode, key in (("on", f"w5_delay{d}"), ("thread", f"w5_delay{d}_pipeline_thread")):
        on = group(bench="w5_gateway", delay_ms=d, tracing=mode)
        if off and on:
            res[key] = {"rps_off": med(off, "rps"), "rps_on": med(on, "rps"),
                        "rps_ratio": paired(off, on, "rps", lambda a, b: a / b),
                        "p50_us_off": med(off, "p50_us"), "p50_us_on": med(on, "p50_us"),
                        "p99_us_off": med(off, "p99_us"), "p99_us_on": med(on, "p99_us"),
                        "p99_added_us": paired(off, on, "p99_us", lambda a, b: a - b),
                        "errors_on": med(on, "errors"), "runs": len(on)}
micro = {}
try:
    for b in json.load(open(micro_path))["benchmarks"]:
        if b.get("aggregate_name") == "median":
            micro[b["run_name"]] = {"ns": b["real_time"] if b["time_unit"] == "ns" else b["real_time"] * 1e3,
                                    "items_per_second": b.get("items_per_second"), "bytes_per_second": b.get("bytes_per_second"),
                                    "added_ns": b.get("added_ns"), "plain_ns": b.get("plain_ns")}
except Exception as e:  # noqa
    micro["error"] = str(e)
res["micro"] = micro
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
meta = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} vCPU",
        "compiler": "GCC 12 -O2 (RelWithDebInfo)", "median_of": len(group(bench="span_overhead", mode="w1"))}
json.dump({"meta": meta, "results": res, "peers": PEERS}, open(json_out, "w"), indent=2)

def f(x, nd=0):
    return "n/a" if x is None else f"{x:,.{nd}f}"
def ratio(ours, peer, lower_better=True):
    if ours in (None, 0):
        return "n/a"
    r = peer / ours if lower_better else ours / peer
    return f"{r:.1f}×" if r < 10 else f"{r:.0f}×"

w1, w2, w2e = res["w1"], res["w2"], res["w2e"]
pb, js = res["w3_protobuf_backpressure"], res["w3_json_backpressure"]
pbu, jsu = res["w3_protobuf_unthrottled"], res["w3_json_unthrottled"]
lines = [
    f"Measured {meta['date']} on {meta['machine']}, {meta['compiler']}; medians of {meta['median_of']} runs (`bench/run.sh`).",
    "",
    "| workload | figure | TraceCraft C++ | target | opentelemetry-cpp | OTel JS | vs otel-cpp / JS |",
    "|---|---|---|---|---|---|---|",
    f"| bare loop (yield per run, no tracing) | ns per span-equivalent | {f(base,1)} | — | — | 171 | — |",
    f"| W1 all kept | ns/span incl. loop / net | {f(w1['ns_per_span'],1)} / {f(w1['net_ns_per_span'],1)}, {f(w1['dropped'])} dropped | ≤ 150 net | 2135 | 1561 (1390 net) | {ratio(w1['ns_per_span'],2135)} / {ratio(w1['ns_per_span'],1561)} |",
    f"| W2 rate 0 | ns/span incl. / net | {f(w2['ns_per_span'],1)} / {f(w2['net_ns_per_span'],1)} | ≤ 15 net | 127 | 773 (602 net) | {ratio(w2['ns_per_span'],127)} / {ratio(w2['ns_per_span'],773)} |",
    f"| W2 rate 0 + keep errors | ns/span incl. / net | {f(w2e['ns_per_span'],1)} / {f(w2e['net_ns_per_span'],1)} | ≤ 80 net | cannot | cannot | — |",
    f"| W3 protobuf (back-pressure, 0 lost) | spans/s delivered; CPU-s per M; peak RSS | {f(pb['delivered_per_s'])}; {f(pb['cpu_s_per_m_delivered'],2)}; {f(pb['peak_rss_kib']/1024,1)} MiB | ≥ 1.5 M; ≤ 0.8; ≤ 16 MiB | 67.6 k; 21.8; 24.6 MiB | 160.6 k; 6.94; 88.1 MiB | {ratio(67.6e3, pb['delivered_per_s'])} / {ratio(160.6e3, pb['delivered_per_s'])} |",
    f"| W3 protobuf, disk spool on, healthy sink | CPU-s per M delivered (vs off) | {f(res['w3_protobuf_backpressure_spool']['cpu_s_per_m_delivered'],2)} ({f(pb['cpu_s_per_m_delivered'],2)} off) | ≤ +5 % | — | — | — |" if res['w3_protobuf_backpressure_spool']['runs'] else "| W3 spool | not run | | | | | |",
    f"| W3 protobuf unthrottled | spans/s delivered; dropped | {f(pbu['delivered_per_s'])}; {f(pbu['dropped'])} of 1 M | — | 67.6 k; 73 % | 160.6 k; 0.3 % | — |",
    f"| W3 JSON (back-pressure) | spans/s delivered; CPU-s per M | {f(js['delivered_per_s'])}; {f(js['cpu_s_per_m_delivered'],2)} | ≥ 700 k | 36.2 k; 43.4 | 157.2 k; 7.02 | {ratio(36.2e3, js['delivered_per_s'])} / {ratio(157.2e3, js['delivered_per_s'])} |",
    f"| W3 JSON unthrottled | spans/s delivered; dropped | {f(jsu['delivered_per_s'])}; {f(jsu['dropped'])} of 1 M | — | 36.2 k; 89 % | 157.2 k; 0.3 % | — |",
    f"| W4 redaction (dense PII corpus, 18 rules) | MB/s; recall; precision | {f(res['w4']['mb_per_s'],1)}; {res['w4']['recall']}; {res['w4']['precision']} | ≥ 1000; 1; ≥ 0.999 | — | — | — |",
]
for d in (0, 20):
    for key, how in ((f"w5_delay{d}", ""), (f"w5_delay{d}_pipeline_thread", ", pipeline on its own thread")):
        w = res.get(key)
        if w:
            lines.append(f"| W5 gateway, upstream {d} ms{how} | req/s off → on (paired ratio); p99 off → on (paired added) | {f(w['rps_off'])} → {f(w['rps_on'])} ({w['rps_ratio']:.3f}); {f(w['p99_us_off'])} → {f(w['p99_us_on'])} µs ({w['p99_added_us']:+.0f}) | ≥ 0.98; ≤ +50 µs | — | — | — |")
if "error" not in micro:
    pr = micro.get("BM_context_slot_paired")
    if pr and pr.get("added_ns") is not None:
        lines.append(f"| context slot | ns added per resumption (plain and traced co_await post, interleaved) | {f(pr['added_ns'],1)} (of {f(pr['plain_ns'],1)}) | ≤ 10 | — | — | — |")
    lines += ["", "Micro-benchmarks (Google Benchmark, medians):", "", "| benchmark | ns per iteration | rate |", "|---|---|---|"]
    for k, v in micro.items():
        rate = f"{v['items_per_second']/1e6:.2f} M items/s" if v.get("items_per_second") else ""
        if v.get("bytes_per_second"):
            rate += (", " if rate else "") + f"{v['bytes_per_second']/1e9:.2f} GB/s"
        lines.append(f"| {k} | {f(v['ns'],1)} | {rate} |")
open(md_out, "w").write("\n".join(lines) + "\n")
