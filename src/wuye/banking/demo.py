"""The demo's bank: a receiving account for 翠湖花园 and a sample statement file to import (issue 17 item 9).

The sample is written in the account's layout (工行式 CSV): a few transfers whose memos carry units' 缴费编号
or room numbers, one that matches nothing (for the review queue) and one outgoing line (ignored), so the
import page shows each outcome. Amounts are what those units owe today, so the import settles them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.utils import timezone

from wuye.accounts.models import User
from wuye.banking.models import BankAccount
from wuye.banking.parsing import payment_reference
from wuye.banking.services import bank_account_save
from wuye.billing.selectors import account_summaries
from wuye.estate.models import Project, Unit

ACCOUNT_NO = "6222020200112345678"


def demo_banking(*, directory: Path, project_code: str = "DEMO-CH", finance: str = "caiwu") -> tuple[BankAccount, Path]:
    """Create the demo's bank account (once) and write the sample statement under ``directory``."""
    project = Project.objects.get(code=project_code)
    actor = User.objects.get(username=finance)
    account = BankAccount.objects.filter(project=project).first() or bank_account_save(
        actor=actor, project=project, name=f"{project.name}收款户", bank="中国工商银行", account_no=ACCOUNT_NO,
        layout="icbc_csv")
    today = timezone.localdate()
    owing = []
    for s in account_summaries(as_of=today, project_id=project.pk):
        if s.overdue_fen > 0 and s.unit_id not in {o.unit_id for o in owing}:
            owing.append(s)
        if len(owing) == 4:
            break
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[s.unit_id for s in owing])}
    day = today - dt.timedelta(days=1)
    lines = ["交易日期,交易流水号,摘要,借方发生额,贷方发生额,余额,对方户名,对方账号,附言"]
    balance = 100_000_00
    for n, s in enumerate(owing, start=1):
        unit = units[s.unit_id]
        balance += s.overdue_fen
        memo = f"{payment_reference(unit)} 物业费" if n % 2 else f"{unit.project.name} {unit.code} 物业费"
        lines.append(f"{day:%Y-%m-%d},DEMO{day:%Y%m%d}{n:04d},转账,,{s.overdue_fen / 100:.2f},{balance / 100:.2f},"
                     f"业主{n},62284800000000{n:04d},{memo}")
    balance += 500_00
    lines.append(f"{day:%Y-%m-%d},DEMO{day:%Y%m%d}0090,转账,,500.00,{balance / 100:.2f},张某,6228480000009999,"
                 "预交")
    lines.append(f"{day:%Y-%m-%d},DEMO{day:%Y%m%d}0091,手续费,12.00,,{(balance - 1200) / 100:.2f},,,")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"银行流水样例-{project.name}-{day:%Y%m%d}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="gbk")
    return account, path

