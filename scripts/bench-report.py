#!/usr/bin/env python3
"""Summarises a scripts/bench-app.sh run: min/median/max of every row and of the ratio to its
reference within each round, the targets, and the Markdown table the README shows.

Arguments: RESULTS_TSV CLK_TCK IDLE_RSS_MB LOAD_RSS_MB READY_MS ROUNDS DURATION THREADS
CONNECTIONS PROXY_CONNECTIONS. Each TSV line: row, side (app, reference, direct), round, req/s,
p50 ms, p99 ms (or -), server CPU ticks, requests, PostgreSQL CPU ticks, server RSS MB (or -).
"""
import statistics
import sys
from collections import defaultdict

(results, hz, idle_rss, load_rss, ready_ms, rounds, duration, threads, connections,
 proxy_connections) = sys.argv[1:11]
hz, idle_rss, load_rss, ready_ms = int(hz), float(idle_rss), float(load_rss), float(ready_ms)

runs = defaultdict(dict)  # (row, side) -> round -> fields
for line in open(results):
    row, side, round_, rps, p50, p99, ticks, requests, db_ticks, rss = line.rstrip("\n").split("\t")
    runs[(row, side)][int(round_)] = dict(
        rps=float(rps),
        p50=float(p50),
        p99=None if p99 == "-" else float(p99),
        cpu=int(ticks) / hz / max(int(requests), 1) * 1e6,
        db=int(db_ticks) / hz / max(int(requests), 1) * 1e6,
    )


def spread(values, digits=0, unit=""):
    """min / median / max as one cell."""
    values = sorted(values)
    if not values:
        return "-"
    fmt = f"{{:,.{digits}f}}{unit}"
    middle = statistics.median(values)
    if len(values) == 1:
        return fmt.format(middle).replace(",", " ")
    return " / ".join(fmt.format(v) for v in (values[0], middle, values[-1])).replace(",", " ")


def column(row, side, field):
    return [r[field] for r in runs[(row, side)].values() if r[field] is not None]


def ratios(row, field="rps"):
    app, reference = runs[(row, "app")], runs[(row, "reference")]
    return [app[n][field] / reference[n][field] for n in app if n in reference and reference[n][field]]


def median(values):
    return statistics.median(values) if values else float("nan")


print(f"\n{rounds} rounds of {duration} s, wrk -t{threads} -c{connections} "
      f"(proxies: -c{proxy_connections}); min / median / max\n")
print(f"{'row':22} {'side':10} {'req/s':>26} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'DB µs/req':>10}")
for (row, side) in runs:
    p99 = column(row, side, "p99")
    db = median(column(row, side, "db"))
    print(f"{row:22} {side:10} {spread(column(row, side, 'rps')):>26} {median(column(row, side, 'p50')):8.3f} "
          f"{(median(p99) if p99 else float('nan')):8.3f} {median(column(row, side, 'cpu')):11.1f} "
          f"{(db if row.endswith('postgres') else float('nan')):10.1f}")


def added(side):
    """What a proxy adds to the p50 of one connection, per round."""
    direct = runs[("one connection", "direct")]
    return [r["p50"] - direct[n]["p50"] for n, r in runs[("one connection", side)].items() if n in direct]


chaos_added, haproxy_added = median(added("app")), median(added("reference"))


def relative(row, to="cache hit"):
    """Requests/s of `row` over the App's cache hit in the same round."""
    base = runs[(to, "app")]
    return [r["rps"] / base[n]["rps"] for n, r in runs[(row, "app")].items() if n in base]


logged_ratio = relative("cache hit, logged")
floor_ratio = relative("cache hit, floor")
floor_nginx = [r["rps"] / runs[("cache hit", "reference")][n]["rps"]
               for n, r in runs[("cache hit, floor", "app")].items() if n in runs[("cache hit", "reference")]]
# The App's share of a PostgreSQL cache miss: its own CPU per request against the server's.
pg_app_cpu = median(column("cache miss, postgres", "app", "cpu"))
pg_db_cpu = median(column("cache miss, postgres", "app", "db"))

targets = [
    ("cache hit ≥ 0.85 × nginx", median(ratios("cache hit")), 0.85, "×"),
    ("cache hit p99 ≤ 1.5 × nginx's", median(ratios("cache hit", "p99")), -1.5, "×"),
    ("cache miss, SQLite ≥ 0.40 × nginx", median(ratios("cache miss, sqlite")), 0.40, "×"),
    ("cache miss, PostgreSQL ≥ 0.75 × pgbench", median(ratios("cache miss, postgres")), 0.75, "×"),
    ("chaos pass-through ≥ 1.0 × haproxy", median(ratios("chaos pass-through")), 1.0, "×"),
    (f"chaos adds ≤ haproxy's p50 + 0.02 ms ({haproxy_added:.3f} ms)", chaos_added, -(haproxy_added + 0.02), " ms"),
    ("App RSS under the cache-hit load ≤ 40 MB", load_rss, -40, " MB"),
    ("App RSS idle ≤ 25 MB", idle_rss, -25, " MB"),
    ("start to ready on a populated database ≤ 500 ms", ready_ms, -500, " ms"),
]
print()
for name, value, bound, unit in targets:
    met = value >= bound if bound >= 0 else value <= -bound
    print(f"{'met   ' if met else 'MISSED'} {name}: {value:.3f}{unit}")
print(f"\naccess log on: {spread(logged_ratio, 2, ' ×')} of the cache hit with it off")
print(f"Hummingbird alone (bench-floor, same bytes): {spread(floor_nginx, 2, ' ×')} of nginx; "
      f"the App's cache hit is {spread([1 / r for r in floor_ratio], 2, ' ×')} of it")
print(f"PostgreSQL cache miss: App CPU {pg_app_cpu:.1f} µs/req, PostgreSQL CPU {pg_db_cpu:.1f} µs/req "
      f"(App share {pg_app_cpu / (pg_app_cpu + pg_db_cpu):.0%})")

labels = {
    "cache hit": ("cache hit (`page=1&page_size=20`)", "nginx, same bytes, 1 worker"),
    "cache miss, sqlite": ("cache miss, SQLite", "nginx, a page of the same size"),
    "cache miss, postgres": ("cache miss, PostgreSQL", f"`pgbench -M prepared -c 5 -j 2`, the App's page query"),
    "chaos pass-through": (f"chaos pass-through, no toxics (1 KiB, {proxy_connections} conns)", "haproxy 2.6 TCP, `nbthread 1`"),
}
print("\n| path | App req/s | reference | reference req/s | ratio | App p99 ms | reference p99 ms |")
print("|---|---:|---|---:|---:|---:|---:|")
for row, (path, reference) in labels.items():
    app_p99, ref_p99 = column(row, "app", "p99"), column(row, "reference", "p99")
    print(f"| {path} | {spread(column(row, 'app', 'rps'))} | {reference} | {spread(column(row, 'reference', 'rps'))} "
          f"| {spread(ratios(row), 2, ' ×')} | {median(app_p99):.2f} | "
          f"{'-' if not ref_p99 else f'{median(ref_p99):.2f}'} |")
logged = column("cache hit, logged", "app", "rps")
print(f"| cache hit, access log on (`LOG_LEVEL=info`, to a file) | {spread(logged)} | the same App, log off | "
      f"{spread(column('cache hit', 'app', 'rps'))} | {spread(logged_ratio, 2, ' ×')} | "
      f"{median(column('cache hit, logged', 'app', 'p99')):.2f} | {median(column('cache hit', 'app', 'p99')):.2f} |")
floor = column("cache hit, floor", "app", "rps")
print(f"| the same bytes from Hummingbird alone (`bench-floor`) | {spread(floor)} | nginx | "
      f"{spread(column('cache hit', 'reference', 'rps'))} | {spread(floor_nginx, 2, ' ×')} | "
      f"{median(column('cache hit, floor', 'app', 'p99')):.2f} | {median(column('cache hit', 'reference', 'p99')):.2f} |")
print(f"| one connection, p50 added to nginx's | chaos {chaos_added:.3f} ms | haproxy | {haproxy_added:.3f} ms | | | |")
