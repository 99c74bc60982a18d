#!/usr/bin/env python3
"""Turns the raw TSVs of bench/run.sh into docs/benchmarks.md: medians over the rounds, ratios from this run.

A ratio between two targets is the median of their per-round ratios: the targets of one round run back to back, so
a slow spell of the machine that spans a round cancels out instead of pulling one target's median down."""
import csv
import statistics
import os
import sys
from collections import defaultdict

results, big, idle, duration, rounds = sys.argv[1:6]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


data = defaultdict(lambda: defaultdict(list))
by_round = defaultdict(lambda: defaultdict(dict))  # (scenario, target) -> key -> round -> value
for r in rows(results):
    # wrk's Transfer/sec counts response bytes: an upload's throughput is its request rate times 1 MiB.
    if "post-1MiB" in r["scenario"]:
        r["mbps"] = r["rps"]
    for k in ("rps", "mbps", "p50_ms", "p99_ms", "cpu_us", "rss_idle_kb", "rss_load_kb", "alloc_per_req"):
        data[(r["scenario"], r["target"])][k].append(num(r[k]))
        by_round[(r["scenario"], r["target"])][k][r["round"]] = num(r[k])

scenarios = []
for r in rows(results):
    if r["scenario"] not in scenarios:
        scenarios.append(r["scenario"])
targets = ["direct", "sidekick", "sidekick-trace", "nginx", "haproxy", "nginx-hdr", "haproxy-hdr", "sidekick-tls", "nginx-tls",
           "haproxy-tls"]


def m(s, t, k):
    return med(data[(s, t)][k]) if (s, t) in data else None


def throughput(s):
    """Requests/s for small bodies, MB/s for the 1 MiB ones."""
    return "mbps" if "1MiB" in s else "rps"


def me_in(s):
    """Sidekick's target in scenario s."""
    return "sidekick-tls" if s.startswith("tls-") else "sidekick"


def peer(s, name):
    """nginx's or haproxy's target in scenario s: over TLS, or adding sidekick's headers too."""
    return name + "-tls" if s.startswith("tls-") else name + "-hdr" if s.endswith("-same-headers") else name


def fmt(v, spec="{:.0f}"):
    return "–" if v is None else spec.format(v)


def ratio(a, b):
    return "–" if a is None or not b else f"{a / b:.2f}×"


def paired(s, a, b, k):
    """The per-round ratios of target a to target b (rounds where both have a value)."""
    ra, rb = by_round[(s, a)][k], by_round[(s, b)][k]
    return [ra[n] / rb[n] for n in ra if n in rb and ra[n] and rb[n]]


def pratio(s, a, b, k):
    """The median of the per-round ratios; the ratio of the medians when no round has both."""
    if (s, a) not in data or (s, b) not in data:
        return "–"
    values = paired(s, a, b, k)
    return f"{statistics.median(values):.2f}×" if values else ratio(m(s, a, k), m(s, b, k))


def spread(s, a, b, k):
    values = paired(s, a, b, k)
    if not values:
        return "–"
    return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


out = []
out.append("# Benchmarks: sidekick vs nginx vs haproxy")
out.append("")
out.append("Produced by `./build.sh bench` (bench/run.sh). One nginx backend (one worker, logging off, `return 200`")
out.append("for small bodies, static 1 MiB and 100 MiB files); in front of it, each on its own: sidekick (the Native AOT")
out.append("release build), nginx as a proxy (one worker, upstream keepalive) and haproxy (one thread, `http-reuse")
out.append("always`), each pinned to one core with taskset while wrk and the backend share the other. Targets are")
out.append(f"measured alternately, {rounds} round(s) of {duration} s each, in an order that turns by one place each round;")
out.append("figures are medians over the rounds, and a ratio is the median of the per-round ratios (the targets of a round")
out.append("run back to back, so a slow spell of the machine cancels out). Compare the ratios, which come from one run on")
out.append("one machine; absolute figures from another run or machine are not comparable.")
out.append("")
out.append("![throughput as a fraction of direct](benchmarks.png)")
out.append("")
out.append("Scenarios: `small-keepalive` (GET of a 12-byte body, 64 keep-alive connections), `new-connection` (16")
out.append("connections, `Connection: close` on every request), `get-1MiB` and `post-1MiB` (8 connections), `low-load-4c`")
out.append("(4 connections), `fixed-rate-4k` (32 connections each pausing 8 ms after every response: about 3,600")
out.append("requests/s offered to every target, so compare the latency columns), `tls-small-keepalive`, `tls-get-1MiB`")
out.append("and `tls-post-1MiB` (the proxy terminates TLS, plain HTTP to the backend; 64, 8 and 8 connections).")
out.append("`small-keepalive-same-headers`: as `small-keepalive`, but nginx (`nginx-hdr`) and haproxy (`haproxy-hdr`) also")
out.append("do the header work sidekick does on every request (X-Forwarded-For, X-Real-IP, X-Forwarded-Host and")
out.append("X-Forwarded-Proto to the backend; Server: SideKick and X-Proxy: true to the client); the targets of issue 7")
out.append("are measured against them without it, in `small-keepalive`.")
out.append("`alloc B/req`: bytes sidekick allocated per forwarded request between 1 s into a run and 1 s before its end,")
out.append("from its metrics page, less what one scrape allocates.")
out.append("")
out.append("| scenario | target | req/s | MB/s | × direct | × nginx | × haproxy | p50 ms | p99 ms | CPU µs/req | RSS before MiB | RSS load MiB | alloc B/req |")
out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in scenarios:
    thr = throughput(s)
    for t in targets:
        if (s, t) not in data:
            continue
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            s, t, fmt(m(s, t, "rps")), fmt(m(s, t, "mbps"), "{:.1f}"),
            pratio(s, t, "direct", thr) if t != "direct" else "",
            pratio(s, t, peer(s, "nginx"), thr) if t != "direct" and not t.startswith("nginx") else "",
            pratio(s, t, peer(s, "haproxy"), thr) if t != "direct" and not t.startswith("haproxy") else "",
            fmt(m(s, t, "p50_ms"), "{:.2f}"), fmt(m(s, t, "p99_ms"), "{:.2f}"),
            fmt(m(s, t, "cpu_us"), "{:.1f}"),
            fmt(None if m(s, t, "rss_idle_kb") is None else m(s, t, "rss_idle_kb") / 1024, "{:.1f}"),
            fmt(None if m(s, t, "rss_load_kb") is None else m(s, t, "rss_load_kb") / 1024, "{:.1f}"),
            fmt(m(s, t, "alloc_per_req"))))
out.append("")
out.append("Sidekick against the others, round by round: the median of the per-round ratios and, in brackets, the lowest")
out.append("and highest (how far one round of this machine can be trusted). CPU: sidekick's µs per request over theirs")
out.append("(below 1: sidekick needs less).")
out.append("")
out.append("| scenario | × haproxy | × nginx | CPU ÷ haproxy's | CPU ÷ nginx's |")
out.append("|---|---:|---:|---:|---:|")
for s in (s for s in scenarios if (s, me_in(s)) in data):
    me = me_in(s)
    out.append(f"| {s} | {spread(s, me, peer(s, 'haproxy'), throughput(s))} | {spread(s, me, peer(s, 'nginx'), throughput(s))} | "
               f"{spread(s, me, peer(s, 'haproxy'), 'cpu_us')} | {spread(s, me, peer(s, 'nginx'), 'cpu_us')} |")
out.append("")
on, off = m("small-keepalive", "sidekick-trace", "rps"), m("small-keepalive", "sidekick", "rps")
if on and off:
    out.append(f"Tracing every request as JSON to a file (`sidekick-trace`: `--trace all --json > file`) runs at {on / off:.2f}× the")
    out.append("throughput of sidekick with tracing off (`--quiet`) in the small keep-alive scenario.")
    out.append("")
errors_file = sys.argv[6] if len(sys.argv) > 6 else None
if errors_file and os.path.exists(errors_file):
    errors = [l.strip() for l in open(errors_file) if l.strip()]
    if errors:
        out.append("Non-2xx answers seen during the run (counted in the figures above):")
        out.append("")
        out.extend("- " + e.replace("bench: ", "") for e in errors)
        out.append("")
rest_file = sys.argv[7] if len(sys.argv) > 7 else None
if rest_file and os.path.exists(rest_file):
    out.append("## Resident memory at rest")
    out.append("")
    out.append("At the start of the run (health checked, a few requests served), and after every scenario above once")
    out.append("the proxy has been idle for 12 s.")
    out.append("")
    out.append("| target | RSS at start MiB | RSS at rest after load MiB |")
    out.append("|---|---:|---:|")
    for r in rows(rest_file):
        out.append(f"| {r['target']} | {int(r['start_kb']) / 1024:.1f} | {int(r['after_load_kb']) / 1024:.1f} |")
    out.append("")
out.append("## 100 MiB through the proxy (one stream): RSS growth")
out.append("")
out.append("| target | direction | RSS before MiB | RSS peak MiB | growth MiB | seconds |")
out.append("|---|---|---:|---:|---:|---:|")
for r in rows(big):
    b, p = int(r["rss_before_kb"]), int(r["rss_peak_kb"])
    out.append(f"| {r['target']} | {r['direction']} | {b / 1024:.1f} | {p / 1024:.1f} | {(p - b) / 1024:.1f} | {r['seconds']} |")
out.append("")
out.append("## Idle client connections (10,000, or fewer where the descriptor limit does not allow haproxy that many)")
out.append("")
out.append("| target | connections | RSS before MiB | RSS with them MiB | per connection KiB |")
out.append("|---|---:|---:|---:|---:|")
for r in rows(idle):
    b, a, n = int(r["rss_before_kb"]), int(r["rss_after_kb"]), int(r["connections"])
    out.append(f"| {r['target']} | {n} | {b / 1024:.1f} | {a / 1024:.1f} | {(a - b) / n:.2f} |")
out.append("")
micro = "artifacts/bench-micro.txt"
if os.path.exists(micro):
    table = [l.rstrip() for l in open(micro) if l.startswith("|")]
    if table:
        out.append("## Micro benchmarks (BenchmarkDotNet, short job, MemoryDiagnoser)")
        out.append("")
        out.extend(table)
        out.append("")
out.append("Targets of issue 7: small GET keep-alive req/s ≥ 1.0× haproxy and nginx, CPU µs/req ≤ haproxy's, p99 ≤")
out.append("haproxy's; 1 MiB GET/POST MB/s ≥ 1.0× haproxy; idle RSS ≤ 20 MiB; ≤ 2 KiB per idle connection; RSS growth")
out.append("≤ 32 MiB while streaming 100 MiB; 0 B allocated per proxied request.")
print("\n".join(out))
