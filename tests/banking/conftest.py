"""Banking fixtures: a finance persona, a billed estate with arrears, statement files built in the test."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from wuye.accounts.choices import Role

ICBC_HEADER = ["交易日期", "交易流水号", "摘要", "借方发生额", "贷方发生额", "余额", "对方户名", "对方账号", "附言"]


@pytest.fixture
def fiona(make_user):
    """财务 (finance): imports statements and confirms matches."""
    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def owed(arrears_estate):
    """The arrears estate (Jan–Jul 2026 billed, nobody paid) with its units by code."""
    from wuye.estate.models import Unit

    arrears_estate["by_code"] = {u.code: u for u in Unit.objects.filter(project=arrears_estate["project"])}
    return arrears_estate


@pytest.fixture
def icbc_account(fiona, owed):
    from wuye.banking.services import bank_account_save

    return bank_account_save(actor=fiona, project=owed["project"], name="测试花园收款户", bank="工商银行",
                             account_no="1202 0201 0900 0012 345", layout="icbc_csv")


@pytest.fixture
def queue(monkeypatch):
    """The configured Huey queue with the in-process shortcut switched off: tasks wait until a 'worker'
    (the test) dequeues and executes them. A real worker closes its database connections around each task;
    here the task runs on the test's own connection, inside its transaction, so that is switched off."""
    from huey.contrib.djhuey import HUEY

    monkeypatch.setattr("huey.contrib.djhuey.close_old_connections", lambda: None)
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def icbc_csv(rows: list[list[str]], encoding: str = "gbk", total: bool = True) -> bytes:
    """rows: [date, serial, debit, credit, name, account, memo]."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(ICBC_HEADER)
    for date, serial, debit, credit, name, account, memo in rows:
        w.writerow([date, serial, "转账", debit, credit, "", name, account, memo])
    if total:
        w.writerow(["合计", "", "", "", "", "", "", "", ""])
    return out.getvalue().encode(encoding)


def open_fen(unit) -> int:
    from django.db.models import F, Sum

    from wuye.billing.models import Bill

    return Bill.objects.filter(unit=unit, is_void=False).aggregate(t=Sum(F("amount_fen") - F("settled_fen")))["t"] or 0


DAY = dt.date(2026, 7, 20).isoformat()
