"""One debtor's arrears as of a date — the figures a case freezes and the documents print.

Per party, not per unit: a case claims the periods its debtor owes (``Bill.party``), on any of their units in the
project, and never a buyer's or seller's periods. Figures come from billing's statement (late fee per contract
on each line's open principal, and beside it the figure a court is likely to uphold, 1-year LPR × (1 + margin));
when dunning's document figures (one function for every demand) are available they take its place here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from wuye.billing.models import Bill
from wuye.billing.selectors import statements_for_units
from wuye.common.formatting import format_yuan
from wuye.estate.models import Unit


@dataclass
class DebtLine:
    bill: Bill
    open_fen: int
    late_fee_fen: int
    court_fen: int
    explanation: str


@dataclass
class Debt:
    party_id: int
    project_id: int
    as_of: dt.date
    lines: list[DebtLine] = field(default_factory=list)

    @property
    def principal_fen(self) -> int:
        return sum(x.open_fen for x in self.lines)

    @property
    def late_fee_fen(self) -> int:
        return sum(x.late_fee_fen for x in self.lines)

    @property
    def court_fen(self) -> int:
        return sum(x.court_fen for x in self.lines)

    @property
    def unit_ids(self) -> list[int]:
        return sorted({x.bill.unit_id for x in self.lines})


def debt_of(*, party_id: int, project_id: int, as_of: dt.date, bill_ids: list[int] | None = None) -> Debt:
    """The open, matured principal lines the party owes in the project on ``as_of`` (or the lines ``bill_ids``
    of that party), each with its open amount and late fee to ``as_of``."""
    qs = Bill.objects.filter(project_id=project_id, party_id=party_id, is_void=False, late_fee_of__isnull=True)
    if bill_ids is not None:
        qs = qs.filter(pk__in=bill_ids)
    unit_ids = sorted(set(qs.values_list("unit_id", flat=True)))
    debt = Debt(party_id, project_id, as_of)
    if not unit_ids:
        return debt
    units = list(Unit.objects.filter(pk__in=unit_ids).select_related("project"))
    wanted = set(bill_ids) if bill_ids is not None else None
    for statement in statements_for_units(units, as_of=as_of, payments=False).values():
        # late fee already charged as 违约金 lines and since paid or waived is settled: never claimed again
        settled_fees: dict[int, int] = {}
        for line in statement.lines:
            b = line.bill
            if b.late_fee_of_id is not None and not b.is_void:
                settled_fees[b.late_fee_of_id] = settled_fees.get(b.late_fee_of_id, 0) + line.paid_fen + line.adjusted_fen
        for line in statement.lines:
            b = line.bill
            if b.party_id != party_id or b.is_void or b.late_fee_of_id is not None:
                continue
            if wanted is not None:
                if b.pk not in wanted:
                    continue
            elif line.open_fen <= 0 or b.due_date >= as_of:
                continue
            fee = line.late_fee
            amount, court, text = (fee.amount_fen, fee.court_fen, fee.explanation) if fee else (0, 0, "")
            settled = settled_fees.get(b.pk, 0)
            if settled > 0:
                amount, court = max(0, amount - settled), max(0, court - settled)
                text += f"；已计收的违约金中 {format_yuan(settled)} 已缴纳或减免，不再主张"
            debt.lines.append(DebtLine(b, max(line.open_fen, 0), amount, min(court, amount), text))
    debt.lines.sort(key=lambda x: (x.bill.period_start, x.bill.unit_id, x.bill.fee_item.sort, x.bill.pk))
    return debt
