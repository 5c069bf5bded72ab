"""Benchmark: import a 10,000-line GBK bank statement, auto-match and post it, then import it again.

    python bench/bench_bank_import.py                     # fresh SQLite in a temp dir
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuye_bank_bench python bench/bench_bank_import.py

Steps: fresh database → migrate → `wuye seed --units N --seed 1` → fee standards for the largest project →
three months of bills (`generate_bills`) → a statement of `--lines` lines in the ICBC-style CSV layout,
encoded GBK: most credits name a unit code in the memo (typed several ways), some carry the payment
reference (缴费编号), some only the payer's name and the exact open amount, some are junk, some are
debits → `statement_import` (parse + match + post, timed) → the same file again (timed; must post nothing)
→ `check_ledger` for the project (must be clean). Appends one line to bench/results/banking.md. Not a test.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WUYE = [sys.executable, "-m", "wuye"]


def run(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(WUYE + args, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def fresh_database(env: dict) -> None:
    url = env.get("DATABASE_URL")
    if not url:
        env["WUYE_DATA_DIR"] = tempfile.mkdtemp(prefix="wuye-bench-bank-")
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def build_statement(units: list[tuple[int, str, str, int]], lines: int, seed: int) -> bytes:
    """units: (id, code, owner name, open fen). ICBC-style CSV, GBK."""
    from wuye.banking.parsing import payment_reference

    rng = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["交易日期", "交易流水号", "摘要", "借方发生额", "贷方发生额", "余额", "对方户名", "对方账号", "附言"])
    names = {}
    for _, _, name, _ in units:
        names[name] = names.get(name, 0) + 1
    # name + amount lines need a name owned once and a unit no other line touches
    unique_named = [u for u in units if names[u[2]] == 1 and u[3] > 0]
    rng.shuffle(unique_named)
    by_name = unique_named[: lines // 10]
    reserved = {u[0] for u in by_name}
    others = [u for u in units if u[0] not in reserved]
    start = dt.date(2026, 10, 1)
    for i in range(lines):
        day = start + dt.timedelta(days=i * 50 // lines)
        serial = f"{day:%Y%m%d}{i:08d}"
        account = f"6222{rng.randrange(10**11, 10**12)}"
        kind = i % 20
        debit, credit, memo, name = "", "", "", f"付款人{i}"
        if kind == 0:  # a debit: bank charges, a refund paid out
            debit = f"{rng.randint(5, 5000)}.{rng.randint(0, 99):02d}"
            memo = "手续费" if i % 3 else "退款"
        elif kind == 1:  # junk: no clue at all
            credit = f"{rng.randint(100, 9000)}.00"
            memo = "往来款"
        elif kind in (2, 3) and by_name:  # name and the exact open amount, no code
            uid, code, name, open_fen = by_name.pop()
            credit = f"{open_fen // 100}.{open_fen % 100:02d}"
            memo = "物业费"
        else:
            uid, code, name, open_fen = rng.choice(others)
            amount = rng.choice([open_fen, rng.randint(100, 300_000)]) or 10_000
            credit = f"{amount // 100:,}.{amount % 100:02d}"
            style = kind % 5
            if kind == 4:
                memo = f"缴费编号{payment_reference(uid)}"
            elif style == 0:
                memo = f"{code} 物业费"
            elif style == 1:
                memo = fullwidth(code) + "物业管理费"
            elif style == 2:
                memo = "物业费" + code.replace("-", "栋", 1).replace("-", "单元", 1) + "室"
            else:
                memo = f"交{code}物业费2026年"
        w.writerow([day.isoformat(), serial, "转账", debit, credit, "", name, account, memo])
    w.writerow(["合计", "", "", "", "", "", "", "", ""])
    return out.getvalue().encode("gbk")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="wuye.settings", WUYE_LOG_LEVEL="WARNING")
    fresh_database(env)
    run(["migrate", "-v0"], env)
    seed_s = run(["seed", "--units", str(args.units), "--seed", "1"], env)
    print(f"seed {args.units:,} units: {seed_s:.1f} s")
    os.environ.update(env)

    import django

    django.setup()
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True  # the dunning/casework notifications run right after the import commits, timed too
    from django.db.models import Count

    from wuye.banking.models import BankAccount, StatementLine
    from wuye.banking.parsing import preset_mapping
    from wuye.banking.services import statement_import
    from wuye.billing.ledger import check_ledger
    from wuye.billing.models import Bill, BillingPolicy, Payment
    from wuye.billing.services import bill_generate, liable_parties
    from wuye.billing.synthetic import setup_fee_standards
    from wuye.estate.models import Party, Project, Unit

    project = Project.objects.annotate(n=Count("units")).order_by("-n").first()
    setup_fee_standards(project, since=dt.date(2026, 1, 1))
    BillingPolicy.objects.filter(project=project).update(cycle_months=1)
    for month in (7, 8, 9):
        bill_generate(actor=None, actor_label="bench", project=project, period=dt.date(2026, month, 1))
    owners = liable_parties(project, dt.date(2026, 10, 1))
    party_names = dict(Party.objects.filter(pk__in=set(owners.values())).values_list("id", "name"))
    open_fen: dict[int, int] = {}
    for unit_id, amount, settled in Bill.objects.filter(project=project).values_list("unit_id", "amount_fen",
                                                                                      "settled_fen"):
        open_fen[unit_id] = open_fen.get(unit_id, 0) + amount - settled
    units = [(uid, code, party_names.get(owners.get(uid), ""), open_fen.get(uid, 0))
             for uid, code in Unit.objects.filter(project=project).values_list("id", "code")]
    print(f"project {project.code}: {len(units):,} units, {Bill.objects.filter(project=project).count():,} bills")
    raw = build_statement(units, args.lines, seed=1)
    account = BankAccount.objects.create(project=project, name="基准收款户", bank="工商银行",
                                         account_no="1202020109000012345", layout="icbc_csv",
                                         mapping=preset_mapping("icbc_csv"))
    started = time.perf_counter()
    first = statement_import(actor=None, account=account, filename="statement.csv", raw=raw, actor_label="job:bench")
    first_s = time.perf_counter() - started
    assert first.status == "applied", first.errors[:5]
    payments = Payment.objects.filter(project=project).count()
    print(f"first import: {first_s:.1f} s (of which parse+match+post {first.seconds} s; the rest is the "
          f"arrears_reduced notifications after commit)  {first.counts}  payments {payments:,}")
    started = time.perf_counter()
    second = statement_import(actor=None, account=account, filename="statement.csv", raw=raw, actor_label="job:bench")
    second_s = time.perf_counter() - started
    again = Payment.objects.filter(project=project).count()
    print(f"re-import: {second_s:.1f} s  {second.counts}  payments {again:,}")
    assert again == payments and second.counts["duplicate"] == second.counts["rows"], "re-import posted something"
    assert StatementLine.objects.filter(bank_account=account).count() == first.counts["new"]
    started = time.perf_counter()
    report = check_ledger(project_id=project.pk)
    check_s = time.perf_counter() - started
    print(f"check_ledger: {report.mismatches} mismatches in {check_s:.1f} s")
    assert report.mismatches == 0, report.problems[:5]

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    backend = "postgresql" if env.get("DATABASE_URL") else "sqlite"
    c = first.counts
    line = (f"| {dt.date.today()} | {backend} | {len(units):,} | {args.lines:,} | {first_s:.1f} s "
            f"({first.seconds} s + notifications) | "
            f"{c['matched']:,} / {c['review']:,} / {c['unmatched']:,} / {c['ignored']:,} | {second_s:.1f} s, "
            f"{second.counts['duplicate']:,} duplicates, 0 posted | {report.mismatches} | {commit} |\n")
    results = HERE / "results" / "banking.md"
    results.parent.mkdir(exist_ok=True)
    if not results.exists():
        results.write_text(
            "# Bank statement import benchmark\n\nAppended by `bench/bench_bank_import.py`, one line per run.\n\n"
            "| date | database | units in project | lines | import + match + post | matched / review / unmatched / "
            "debits | re-import | check_ledger mismatches | commit |\n|---|---|---|---|---|---|---|---|---|\n")
    with results.open("a") as fh:
        fh.write(line)
    print(line.strip())


if __name__ == "__main__":
    main()
