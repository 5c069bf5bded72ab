"""Bench-only: turn locust's CSV files into a section of bench/results/load.md (p50/p95/p99 per page, errors,
the load average). Called by run.sh; standard library only."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import subprocess
from pathlib import Path

GOAL_MS = 300

# gunicorn's access log (method, path, status, milliseconds in the worker) → the locustfile's page names
PAGES = [
    ("POST", r"/login/", "login"), ("GET", r"/login/", "login (form)"),
    ("GET", r"/casework/", "casework:worklist"), ("GET", r"/casework/units/\d+/", "casework:case"),
    ("POST", r"/casework/units/\d+/quick/", "casework:quick"), ("GET", r"/casework/units/\d+/contact/", "casework:contact"),
    ("POST", r"/casework/units/\d+/contact/", "casework:contact (promise)"),
    ("GET", r"/estate/units/", "estate:unit-list (search)"), ("GET", r"/billing/units/\d+/", "billing:unit-statement"),
    ("POST", r"/billing/units/\d+/", "billing:unit-statement (pay)"),
    ("GET", r"/billing/payments/\d+/receipt/", "billing:receipt"), ("GET", r"/billing/takings/", "billing:takings"),
    ("GET", r"/insights/", "insights:home"), ("GET", r"/insights/units/", "insights:units"),
    ("GET", r"/collection/", "dunning:overview"), ("GET", r"/casework/desk/team/", "casework:desk-team"),
    ("GET", r"/casework/desk/approvals/", "casework:desk-approvals"),
    ("GET", r"/p/[^/]+/", "portal:bill"), ("POST", r"/p/[^/]+/pay/", "portal:pay"),
    ("GET", r"/p/[^/]+/orders/[^/]+/", "portal:order"), ("GET", r"/p/[^/]+/orders/[^/]+/status/", "portal:order-status"),
    ("GET", r"/p/[^/]+/receipts/\d+\.pdf", "portal:receipt-pdf"),
    ("POST", r"/api/v1/pay/(wechat|alipay)/notify/", "notify (from the sandbox)"),
]


def server_times(path: str) -> dict[str, list[float]]:
    """Milliseconds each request spent in a gunicorn worker, by page (queueing before a worker takes the
    request is not in it: the difference to locust's figure is the wait for a free worker)."""
    out: dict[str, list[float]] = {}
    compiled = [(m, re.compile(p + "$"), name) for m, p, name in PAGES]
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        method, url, _status, ms = parts
        name = next((n for m, rx, n in compiled if m == method and rx.match(url)), f"{method} other")
        out.setdefault(name, []).append(float(ms))
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

HEADER = """# Load test of the pages

By `bench/load/run.sh` (issue 18 item 4): gunicorn with 4 sync workers and one job worker on PostgreSQL and
Redis, the pay sandbox on the loopback, locust headless (`bench/load/locustfile.py`): collectors on the worklist
and case pages recording outcomes, cashiers taking cash payments at the desk, company-wide managers on the
reports, owners opening their bill from a pay link and paying through the sandbox. Goal: p95 ≤ 300 ms per
page and no error. Times are milliseconds as locust saw them (client side, on the same machine); the load
average is `/proc/loadavg` (1 / 5 / 15 min) sampled every 15 s during the run — on a 2-core machine shared
with other work, a load above 2 means requests waited for a CPU, and the figures are upper bounds.
"""


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def database_size() -> str:
    import os

    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    try:
        with psycopg.connect(url) as conn:
            units = conn.execute("SELECT count(*) FROM estate_unit").fetchone()[0]
            bills = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'billing_bill'").fetchone()[0]
        return f"{units:,} units, ~{bills:,} bill lines"
    except Exception as exc:  # noqa: BLE001 - a report line, not a check
        return f"? ({exc.__class__.__name__})"


def main() -> None:
    p = argparse.ArgumentParser()
    for name in ("csv", "loadavg", "users", "scale", "duration", "workers", "load-start", "load-end", "results"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--note", default="")
    p.add_argument("--access", default="")
    a = p.parse_args()
    rows = list(csv.DictReader(open(a.csv + "_stats.csv", encoding="utf-8")))
    failures = list(csv.DictReader(open(a.csv + "_failures.csv", encoding="utf-8")))
    loads = [line.split()[:3] for line in Path(a.loadavg).read_text().splitlines() if line.strip()]
    peak = max((float(x[0]) for x in loads), default=0.0)
    mean = sum(float(x[0]) for x in loads) / len(loads) if loads else 0.0
    out = []
    out.append(f"\n## {dt.datetime.now():%Y-%m-%d %H:%M} — {database_size()}, {a.users} users (scale {a.scale}), "
               f"{a.duration}, {a.workers} gunicorn workers, commit {git_commit()}\n")
    if a.note:
        out.append(a.note.strip() + "\n")
    out.append(f"Load average: at start {a.load_start.split(' ')[0]}, during the run mean {mean:.1f} / peak "
               f"{peak:.1f} (1-min), at the end {' / '.join(a.load_end.split()[:3])}.\n")
    out.append("| page | requests | errors | p50 | p95 | p99 | max | req/s | goal |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    total = None
    for r in rows:
        if r["Name"] == "Aggregated":
            total = r
            continue
        p95 = float(r["95%"] or 0)
        ok = "✓" if p95 <= GOAL_MS and r["Failure Count"] == "0" else "✗"
        out.append(f"| {r['Type']} {r['Name']} | {r['Request Count']} | {r['Failure Count']} | {r['50%']} | "
                   f"{r['95%']} | {r['99%']} | {float(r['Max Response Time']):.0f} | "
                   f"{float(r['Requests/s']):.2f} | {ok} |")
    if total:
        out.append(f"| **all** | {total['Request Count']} | {total['Failure Count']} | {total['50%']} | "
                   f"{total['95%']} | {total['99%']} | {float(total['Max Response Time']):.0f} | "
                   f"{float(total['Requests/s']):.2f} | |")
    if a.access and Path(a.access).exists():
        times = server_times(a.access)
        out.append("\nTime inside a gunicorn worker (ms; without the wait for a free worker):\n")
        out.append("| page | requests | p50 | p95 | p99 | max |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for name in sorted(times):
            v = times[name]
            out.append(f"| {name} | {len(v)} | {pct(v, 50):.0f} | {pct(v, 95):.0f} | {pct(v, 99):.0f} | {max(v):.0f} |")
    if failures:
        out.append("\nErrors:\n")
        for f in failures:
            out.append(f"- {f['Method']} {f['Name']} ×{f['Occurrences']}: {f['Error'][:300]}")
    text = "\n".join(out) + "\n"
    results = Path(a.results)
    if not results.exists():
        results.write_text(HEADER, encoding="utf-8")
    with results.open("a", encoding="utf-8") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
