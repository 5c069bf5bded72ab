"""Benchmark: the guardrail check of a rendered reminder, as the dispatcher runs it before each send.

    python bench/bench_guardrails.py [--n 20000]

Checks N distinct rendered SMS texts (the shipped arrears wording with different units, amounts and pay
links), the same texts with traditional characters, and texts that hold forbidden phrases; prints µs per
text and appends one line to bench/results/guardrails.md. No database. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    n = ap.parse_args().n
    import django

    django.setup()
    from wuye.dunning.guardrails import check_text

    plain = [f"测试花园提示：测试花园{i % 30 + 1}-{i % 1000:03d} 累计未缴费用 ¥{i % 9000 + 100:,}.50（最早一期 "
             f"2026年1月15日 到期），请于 2026年2月{i % 28 + 1}日 前缴纳，逾期按合同约定计收违约金。咨询 0571-8888{i % 10000:04d}。"
             f"在线缴费 https://wuye.example.com/p/{i:016x}/" for i in range(n)]
    traditional = [t.replace("费", "費").replace("缴", "繳").replace("约", "約") for t in plain]
    threats = [t.replace("逾期按合同约定计收违约金", "逾期將停 水、停．电并在业主群通报") for t in plain]
    check_text(plain[0], channel="sms")  # load the tables
    out = []
    for texts in (plain, traditional, threats):
        started = time.process_time()
        refused = sum(bool(check_text(t, channel="sms")) for t in texts)
        us = (time.process_time() - started) / len(texts) * 1e6
        out.append(f"{us:.0f} µs ({refused:,} refused)")
    load = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    line = (f"| {dt.date.today()} | {commit} | {n:,} | " + " | ".join(out) + f" | {load:.1f} |")
    print(line)
    results = HERE / "results" / "guardrails.md"
    if not results.exists():
        results.write_text("# Guardrail check per rendered SMS\n\n`python bench/bench_guardrails.py --n N` "
                           "(no database; one process). CPU µs per text (process time, so a busy machine changes little): the shipped arrears SMS rendered for distinct units, the same "
                           "with traditional characters, the same with forbidden phrases.\n\n"
                           "| date | commit | texts | clean | traditional | threat | load (1 min) |\n"
                           "|---|---|---|---|---|---|---|\n", encoding="utf-8")
    with results.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
