"""Benchmark: read the largest estate file the default bounds accept (100,000 rows × the template's 27
columns) with ``wuye.common.tabular.read_table``, as CSV and as .xlsx; prints seconds and resident-memory growth.

    python bench/bench_read_table.py [--rows 99999] [--kind csv|xlsx|both]

Not a test: it asserts nothing. Figures go to bench/results/import.md by hand, with the load average.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import tempfile
import time


def _row(i: int) -> list[str]:
    return ["BIG", "大文件花园", "住宅小区", "杭州", str(i // 1000), f"{i // 1000}幢", "1", str(i % 30 + 1), f"{i}", "",
            "高层", "89.56", "自住", "2019-06-30", "个人", f"业主{i}", "", f"139{i:08d}", "", "", "杭州市西湖区某路1号",
            "2019-06-30", "", "", "", "", ""]


def build(kind: str, rows: int) -> bytes:
    from wuye.estate.importer import COLUMNS

    header = [c.header for c in COLUMNS]
    if kind == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(header)
        for i in range(rows):
            w.writerow(_row(i))
        return out.getvalue().encode()
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(header)
    for i in range(rows):
        ws.append(_row(i))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=99_999)
    parser.add_argument("--kind", choices=["csv", "xlsx", "both"], default="both")
    args = parser.parse_args()
    os.environ.setdefault("WUYE_DATA_DIR", tempfile.mkdtemp())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    import django

    django.setup()
    from wuye.common.tabular import read_table

    for kind in (["csv", "xlsx"] if args.kind == "both" else [args.kind]):
        raw = build(kind, args.rows)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        table = read_table(f"bench.{kind}", raw)
        seconds = time.perf_counter() - started
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
        print(f"{kind}: {len(table):,} rows, {len(raw) / 1e6:.1f} MB file, read in {seconds:.1f} s, "
              f"resident memory +{grown:.0f} MB, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
