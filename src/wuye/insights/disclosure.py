"""收支公示 — a project's income and expenses per quarter, published to owners (seeds 000/003) as a public page
and an A4 poster.

Aggregates only (PIPL 25; 民法典 1032–1038; domain.md "no public naming of debtors"): the figures are the
project's totals — billed and collected for the quarter's periods, 收费率, money received, expenses by category —
never a name, a unit, a phone or one owner's amount. A quarter is published only when at least
``WUYE_DISCLOSURE_MIN_UNITS`` units were billed in it, so nobody can be picked out of a small group; the
figures are frozen when a manager publishes them (``Disclosure.figures``) and shown until ``expires_on``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.common.formatting import AMOUNT_TOO_LARGE, amount_too_large
from wuye.estate.models import Project
from wuye.insights.metrics import Window, add_months, local_midnight, month_end, rows
from wuye.insights.models import MEASURES, Disclosure, Expense, ExpenseCategory
from wuye.insights.permissions import can_set_targets, can_view


def min_units() -> int:
    return getattr(settings, "WUYE_DISCLOSURE_MIN_UNITS", 20)


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    if not (1 <= quarter <= 4 and 2000 <= year <= 2100):
        raise ValidationError({"quarter": "季度应为 1–4。"})
    first = dt.date(year, 3 * quarter - 2, 1)
    return first, month_end(add_months(first, 2))


def quarter_figures(*, project: Project, year: int, quarter: int) -> dict:
    """The quarter's aggregates (JSON-ready): billed and collected for the quarter's periods as of each month's
    end, 收费率, the households billed (only to check the minimum group size), money received, expenses."""
    from wuye.billing.models import Payment

    first, last = quarter_bounds(year, quarter)
    from wuye.billing.models import Bill

    totals = dict.fromkeys(MEASURES, 0)
    for i in range(3):  # each month's 当期 figures as of its end (insights.metrics)
        for (_, _, _, item), values in rows(Window.of(add_months(first, i)), project_id=project.pk).items():
            if item is None:
                for m in ("billed_fen", "collected_fen"):
                    totals[m] += values[m]
    # households: distinct units with a line of the quarter's periods (only for the minimum group size)

    units = (Bill.objects.filter(project=project, is_void=False, late_fee_of__isnull=True,
                                 period_start__gte=first, period_start__lte=last)
             .values("unit_id").distinct().count())
    received = Payment.objects.filter(project=project, paid_at__gte=local_midnight(first),
                                      paid_at__lt=local_midnight(last + dt.timedelta(days=1))
                                      ).aggregate(t=Sum("amount_fen"))["t"] or 0
    spent = dict(Expense.objects.filter(project=project, spent_on__gte=first, spent_on__lte=last)
                 .values("category").annotate(t=Sum("amount_fen")).values_list("category", "t"))
    expenses = [{"category": c.value, "label": c.label, "amount_fen": int(spent.get(c.value, 0))}
                for c in ExpenseCategory if spent.get(c.value)]
    expense_total = sum(e["amount_fen"] for e in expenses)
    rate = (round(totals["collected_fen"] * 10000 / totals["billed_fen"]) / 100) if totals["billed_fen"] else None
    return {"project": project.name, "year": year, "quarter": quarter, "from": first.isoformat(),
            "to": last.isoformat(), "billed_fen": totals["billed_fen"], "collected_fen": totals["collected_fen"],
            "collection_rate": rate, "units_billed": units, "received_fen": int(received), "expenses": expenses,
            "expense_total_fen": expense_total, "balance_fen": int(received) - expense_total}


@transaction.atomic
def expense_record(*, actor: User, project: Project, category: str, amount_fen: int, spent_on: dt.date,
                   voucher_no: str, note: str = "") -> Expense:
    """Finance (or a manager) enters one expense of a project."""
    if not can_view(actor):
        raise ValidationError({"actor": "只有财务、经理和管理员可以录入支出。"})
    errors = {}
    if category not in ExpenseCategory.values:
        errors["category"] = "请选择支出类别。"
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        errors["amount_fen"] = "金额必须大于 0。"
    elif amount_too_large(amount_fen):
        errors["amount_fen"] = AMOUNT_TOO_LARGE
    if not voucher_no.strip():
        errors["voucher_no"] = "请填写凭证号。"
    elif Expense.objects.filter(project=project, voucher_no=voucher_no.strip()).exists():
        errors["voucher_no"] = "该凭证号已录入。"
    if spent_on > timezone.localdate():
        errors["spent_on"] = "支出日期不能晚于今天。"
    if errors:
        raise ValidationError(errors)
    expense = Expense.objects.create(project=project, category=category, amount_fen=amount_fen, spent_on=spent_on,
                                     voucher_no=voucher_no.strip()[:40], note=note.strip()[:200], entered_by=actor)
    audit_record(actor=actor, verb="insights.expense_record", obj=expense,
                 after={"category": category, "amount_fen": amount_fen, "spent_on": spent_on})
    return expense


@transaction.atomic
def disclosure_publish(*, actor: User, project: Project, year: int, quarter: int,
                       expires_on: dt.date | None = None) -> Disclosure:
    """A manager publishes a finished quarter; refused when fewer than the minimum group of units was billed."""
    if not can_set_targets(actor):
        raise ValidationError({"actor": "只有经理可以发布收支公示。"})
    first, last = quarter_bounds(year, quarter)
    today = timezone.localdate()
    if last >= today:
        raise ValidationError({"quarter": "该季度尚未结束，不能公示。"})
    if Disclosure.objects.filter(project=project, year=year, quarter=quarter).exists():
        raise ValidationError({"quarter": "该季度已公示。"})
    figures = quarter_figures(project=project, year=year, quarter=quarter)
    if figures["units_billed"] < min_units():
        raise ValidationError({"project": f"本季度收费户数 {figures['units_billed']} 户，少于 {min_units()} 户，"
                                          f"公示可能让人推知个别业主的情况，不予公示。"})
    disclosure = Disclosure.objects.create(project=project, year=year, quarter=quarter, figures=figures,
                                           published_by=actor, expires_on=expires_on or today + dt.timedelta(days=90))
    audit_record(actor=actor, verb="insights.disclosure_publish", obj=disclosure, after=figures)
    return disclosure
