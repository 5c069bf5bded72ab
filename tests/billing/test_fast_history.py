"""The set-based history generator (``wuye.billing.fast_history``) on a small synthetic estate.

Two projects: a residential estate billed quarterly and an office building billed monthly, 300 units each.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wuye.billing.fast_history import seed_history_fast
from wuye.billing.ledger import check_ledger
from wuye.billing.models import Allocation, Bill, BillRun, Payment, ReceiptCounter
from wuye.billing.selectors import account_summaries
from wuye.billing.services import add_months, bill_plan, cycle_start_months, policy_for
from wuye.billing.synthetic import setup_fee_standards
from wuye.estate.models import Project
from wuye.estate.synthetic import seed_estate

AS_OF = dt.date(2026, 11, 20)
MONTHS = 12


@pytest.fixture
def two_projects(db):
    seed_estate(units=300, seed=2)  # a residential estate (quarterly)
    seed_estate(units=300, seed=3)  # an office building (monthly)
    projects = list(Project.objects.order_by("code"))
    assert sorted(p.kind for p in projects) == ["office", "residential"]
    return projects


def _snapshot() -> dict:
    bills = sorted(Bill.objects.values_list(
        "unit__code", "unit__project__code", "fee_item__code", "period_start", "period_end", "due_date", "amount_fen",
        "settled_fen", "party__natural_key", "rule", "disputed_since"))
    payments = sorted(Payment.objects.values_list("receipt_no", "unit__code", "amount_fen", "method", "paid_at",
                                                  "reference"))
    allocations = sorted(Allocation.objects.values_list(
        "payment__receipt_no", "bill__unit__code", "bill__fee_item__code", "bill__period_start", "amount_fen",
        "applied_on"))
    return {"bills": bills, "payments": payments, "allocations": allocations}


def test_bills_are_what_bill_generate_would_post(two_projects):
    first = add_months(AS_OF.replace(day=1), -MONTHS)
    expected, runs = set(), {}
    for project in two_projects:
        setup_fee_standards(project, since=first)  # what seed_history_fast does first (idempotent)
        starts = cycle_start_months(policy_for(project))
        month = first
        while month <= AS_OF:
            plan = bill_plan(project=project, period=month) if month.month in starts else None
            if plan is not None and plan.drafts:
                runs[(project.pk, plan.period_start)] = (len(plan.drafts), plan.amount_fen)
                expected |= {(d.unit_id, d.party_id, d.fee_item_id, plan.period_start, plan.period_end, plan.due_date,
                              d.amount_fen, d.rule) for d in plan.drafts}
            month = add_months(month, 1)
    counts = seed_history_fast(projects=two_projects, months=MONTHS, seed=1, as_of=AS_OF)
    got = set(Bill.objects.values_list("unit_id", "party_id", "fee_item_id", "period_start", "period_end",
                                       "due_date", "amount_fen", "rule"))
    assert got == expected
    assert counts["bills"] == len(expected)
    assert {(r.project_id, r.period): (r.bills_created, r.amount_fen) for r in BillRun.objects.all()} == runs
    assert not Bill.objects.exclude(run__period=F("period_start")).exists()
    # both cycles are there: monthly for the office building, quarterly for the estate
    periods = Counter(BillRun.objects.values_list("project__kind", flat=True))
    assert periods["office"] == MONTHS + 1 and periods["residential"] in (4, 5)


def test_ledger_is_clean_and_money_pays_the_oldest_lines_first(two_projects):
    seed_history_fast(projects=two_projects, months=MONTHS, seed=1, as_of=AS_OF)
    assert check_ledger().mismatches == 0
    out = StringIO()
    call_command("check_ledger", stdout=out)  # exits 0
    assert json.loads(out.getvalue())["mismatches"] == 0

    local = timezone.get_current_timezone()
    bills = {b.pk: b for b in Bill.objects.select_related("fee_item")}
    order = sorted(bills.values(), key=lambda b: (b.unit_id, b.due_date, b.period_start, b.fee_item.sort, b.pk))
    lines = defaultdict(list)
    for b in order:
        lines[b.unit_id].append(b)
    filled = Counter()
    allocations = Allocation.objects.select_related("payment").order_by("payment__paid_at", "payment_id", "id")
    rows = sorted(allocations, key=lambda a: (a.payment.paid_at, a.payment_id,
                                              lines[bills[a.bill_id].unit_id].index(bills[a.bill_id])))
    for a in rows:
        bill = bills[a.bill_id]
        oldest_open = next(b for b in lines[bill.unit_id] if filled[b.pk] < b.amount_fen)
        assert bill == oldest_open, "a payment went to a later line while an older one was open"
        paid_on = timezone.localtime(a.payment.paid_at, local).date()
        posted_on = timezone.localtime(bill.created_at, local).date()
        assert a.applied_on == max(paid_on, posted_on)
        filled[bill.pk] += a.amount_fen
    assert all(filled[pk] == b.settled_fen for pk, b in bills.items())

    payments = list(Payment.objects.all())
    assert payments and all(p.amount_fen > 0 and timezone.localtime(p.paid_at, local).date() < AS_OF for p in payments)
    used = Counter()
    for a in Allocation.objects.all():
        used[a.payment_id] += a.amount_fen
    assert all(used[p.pk] <= p.amount_fen for p in payments)
    # receipt numbers: unique per project, and each project's book continues from its counter
    assert len({(p.project_id, p.receipt_no) for p in payments}) == len(payments)
    books = Counter((p.project_id, timezone.localtime(p.paid_at, local).year) for p in payments)
    assert {(c.project_id, c.year): c.last for c in ReceiptCounter.objects.all()} == dict(books)
    # methods that need a reference have one, and the bank limits hold
    assert not Payment.objects.filter(method__in=["wechat", "alipay", "transfer", "direct_debit"], reference="").exists()
    assert not Payment.objects.filter(method="cash", amount_fen__gt=5_000_000).exists()


def test_arrears_mix_covers_every_stage_of_the_ladder(two_projects):
    counts = seed_history_fast(projects=two_projects, months=MONTHS, seed=1, as_of=AS_OF)
    units = counts["units"]
    summaries = list(account_summaries(as_of=AS_OF))
    share = len(summaries) / units
    assert 0.15 <= share <= 0.30, f"{share:.0%} of units in arrears"
    recent = [s for s in summaries if s.days_overdue <= 60 and s.overdue_fen <= 500_000]
    middle = [s for s in summaries if 90 <= s.days_overdue <= 180 and s.overdue_fen <= 500_000]
    legal = [s for s in summaries if s.days_overdue > 180 or s.overdue_fen > 500_000]
    assert len(recent) >= 10 and len(middle) >= 5 and len(legal) >= 5, (len(recent), len(middle), len(legal))
    assert any(s.overdue_fen > 500_000 for s in summaries), "someone owes more than 5,000 yuan"
    assert any(s.overdue_periods >= 3 for s in summaries)
    # disputes: open lines marked, never a paid one
    disputed = Bill.objects.filter(disputed_since__isnull=False)
    assert counts["disputed_lines"] == disputed.count() > 0
    assert all(b.settled_fen < b.amount_fen and b.disputed_since <= AS_OF for b in disputed)
    # each has its disputed days from that day on, open, with no casework dispute (decision 194)
    from wuye.billing.models import BillDispute

    assert sorted(BillDispute.objects.values_list("bill_id", "starts_on", "ends_on", "dispute_ref")) == sorted(
        (b.pk, b.disputed_since, None, None) for b in disputed)
    # prepaid balances: money paid ahead and not yet applied
    assert any(s.prepaid_fen > 0 for s in account_summaries(as_of=AS_OF, only_overdue=False))


def test_same_seed_same_history_other_seed_other_history(two_projects):
    sid = transaction.savepoint()
    seed_history_fast(projects=two_projects, months=6, seed=5, as_of=AS_OF)
    first = _snapshot()
    transaction.savepoint_rollback(sid)
    assert not Bill.objects.exists()
    sid = transaction.savepoint()
    seed_history_fast(projects=two_projects, months=6, seed=5, as_of=AS_OF)
    assert _snapshot() == first
    transaction.savepoint_rollback(sid)
    seed_history_fast(projects=two_projects, months=6, seed=6, as_of=AS_OF)
    other = _snapshot()
    assert other["bills"] != first["bills"] or other["payments"] != first["payments"]
    assert [b[:7] for b in other["bills"]] == [b[:7] for b in first["bills"]]  # the same lines, paid differently
    assert other["payments"] != first["payments"]


def test_projects_with_bills_are_left_alone(two_projects):
    seed_history_fast(projects=two_projects, months=3, seed=1, as_of=AS_OF)
    before = (Bill.objects.count(), Payment.objects.count())
    again = seed_history_fast(projects=two_projects, months=3, seed=1, as_of=AS_OF)
    assert again["projects"] == 0 and again["projects_skipped"] == 2
    assert (Bill.objects.count(), Payment.objects.count()) == before


def test_seed_billing_uses_the_fast_path_above_the_threshold(two_projects, monkeypatch, make_user):
    from wuye.billing.management.commands import seed_billing

    out = StringIO()
    call_command("seed_billing", months=3, seed=1, as_of="2026-11-20", project=[two_projects[0].code],
                 fast_history=True, stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert result["projects"] == 1 and result["runs"] > 0 and result["allocations"] > 0
    make_user("cc", "collector")
    with pytest.raises(CommandError, match="--fast-history"):
        call_command("seed_billing", months=3, fast_history=True, collector="cc", stdout=StringIO())
    monkeypatch.setattr(seed_billing, "FAST_HISTORY_UNITS", 100)
    out = StringIO()
    call_command("seed_billing", months=3, seed=1, as_of="2026-11-20", project=[two_projects[1].code], stdout=out)
    assert "runs" in json.loads(out.getvalue().strip().splitlines()[-1])  # only the fast path counts runs
    assert check_ledger().mismatches == 0


def test_units_created_in_the_same_transaction_and_the_developer_pays_for_unsold_ones(estate):
    """The hand-made test estate (units and owners written through the ORM a moment ago, their key checks still
    pending on PostgreSQL); building 3 floors 4–6 are unsold: the developer is billed."""
    counts = seed_history_fast(projects=[estate["project"]], months=MONTHS, seed=4, as_of=AS_OF)
    assert counts["bills"] == Bill.objects.count() > 0
    unsold = [u.pk for u in estate["units"] if u.code.startswith("3-") and int(u.code.split("-")[1]) >= 401]
    assert set(Bill.objects.filter(unit_id__in=unsold).values_list("party_id", flat=True)) == {estate["developer"].pk}
    assert Payment.objects.filter(unit_id__in=unsold).exists()  # the developer pays twice a year
    assert check_ledger().mismatches == 0


def test_seed_command_passes_fast_history_on(db):
    out = StringIO()
    call_command("seed", units=120, seed=9, months=3, fast_history=True, stdout=out)
    assert '"runs"' in out.getvalue()
    assert BillRun.objects.filter(actor_label="seed").exists() and Payment.objects.exists()
    assert check_ledger().mismatches == 0


def test_the_services_carry_on_from_the_generated_history(two_projects):
    """Ids, sequences and prepaid balances are what the services expect: the next month is billed and paid
    through them as usual."""
    from wuye.billing.services import bill_generate, payment_record

    seed_history_fast(projects=two_projects, months=MONTHS, seed=1, as_of=AS_OF)
    office = next(p for p in two_projects if p.kind == "office")
    prepaid_before = sum(s.prepaid_fen for s in account_summaries(as_of=AS_OF, project_id=office.pk,
                                                                  only_overdue=False))
    run = bill_generate(actor=None, actor_label="test", project=office, period=dt.date(2026, 12, 1),
                        on=dt.date(2026, 12, 1))
    assert run is not None and run.pk > BillRun.objects.exclude(pk=run.pk).order_by("-pk").first().pk
    prepaid_after = sum(s.prepaid_fen for s in account_summaries(as_of=AS_OF, project_id=office.pk,
                                                                 only_overdue=False))
    assert prepaid_after < prepaid_before  # prepaid money paid some of the new lines
    owing = next(s for s in account_summaries(as_of=dt.date(2026, 12, 20), project_id=office.pk))
    unit = office.units.get(pk=owing.unit_id)
    payment = payment_record(actor=None, actor_label="test", unit=unit, amount_fen=owing.open_fen, method="cash"
                             if owing.open_fen <= 5_000_000 else "transfer", reference="T-1")
    year = timezone.localtime(payment.paid_at).year
    assert payment.receipt_no == f"{office.code}-{year}-{ReceiptCounter.objects.get(project=office, year=year).last:06d}"
    assert Payment.objects.filter(project=office, receipt_no=payment.receipt_no).count() == 1
    assert not Bill.objects.filter(unit=unit, is_void=False, settled_fen__lt=F("amount_fen")).exists()
    assert check_ledger().mismatches == 0
