"""No 违约金 on disputed days (domain: late fees — "none on disputed amounts"; decision 194).

Accounts walked day by day over months: a dispute raised by the owner in the portal naming one bill, or recorded
by a collector over every open line, stops the late fee of those lines from the day it is raised, through its
hold's expiry, until the day it is resolved; the fee then runs again. On every day the statement (and the
owner's bill page), the printed figures and a legal case's claim agree with a day-by-day count of the ledger
written here from the scenario's own dates (not from the stored intervals).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from wuye.accounts.models import AuditEvent
from wuye.billing.figures import demand_figures
from wuye.billing.models import Bill, BillDispute
from wuye.billing.selectors import statement_for_unit
from wuye.billing.services import payment_record
from wuye.casework import services
from wuye.common.changes import accounts_changed
from wuye.common.formatting import round_fen
from wuye.estate.selectors import liable_party
from wuye.legal.statement import debt_of
from wuye.portal.selectors import owner_bill

from .conftest import D, names, run

RATE = Decimal("0.5") / 1000  # billed_estate: 0.5‰ a day after 5 grace days
GRACE = 5
AMOUNT = 17_900  # 1-101: 89.50 m² × ¥2.00


def expected_fee(*, due: dt.date, as_of: dt.date, payments: list[tuple[dt.date, int]],
                 disputed: list[tuple[dt.date, dt.date | None]]) -> int:
    """Day by day: the principal open on each day after the grace, unless a dispute [start, end) holds the day."""
    raw = Decimal(0)
    day = due + dt.timedelta(days=GRACE + 1)
    while day <= as_of:
        principal = AMOUNT - sum(fen for d, fen in payments if d <= day)
        held = any(a <= day and (b is None or day < b) for a, b in disputed)
        if principal > 0 and not held:
            raw += principal * RATE
        day += dt.timedelta(days=1)
    return round_fen(raw)


def days(first: dt.date, last: dt.date):
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def check_day(unit, party, day: dt.date, want: dict[int, int]) -> None:
    """Every reader of the late fee agrees with ``want`` (bill id → fee to ``day``)."""
    statement = statement_for_unit(unit, as_of=day)
    got = {x.bill.pk: x.late_fee.amount_fen for x in statement.lines if x.late_fee and x.bill.pk in want}
    assert got == want, day
    page = owner_bill(unit, as_of=day, party_id=party.pk)  # the owner's bill page
    assert {x.bill.pk: x.late_fee.amount_fen for x in page.late_lines if x.bill.pk in want} == \
        {b: f for b, f in want.items() if f}, day
    figures = demand_figures(unit.pk, party.pk, day)  # printed notices, SMS, statements' summary
    assert {x.bill_id: x.late_fee_accruing_fen for x in figures.lines if x.bill_id in want} == \
        {b: f for b, f in want.items() if any(x.bill_id == b for x in figures.lines)}, day
    debt = debt_of(party_id=party.pk, project_id=unit.project_id, as_of=day, bill_ids=list(want))  # legal claims
    assert {x.bill.pk: x.late_fee_fen for x in debt.lines} == want, day


class Announced:
    """The units announced through ``common.changes`` (what the incremental run and the snapshot hear)."""

    def __init__(self):
        self.units: list[int] = []

    def __call__(self, sender, unit_ids=(), **kwargs):
        self.units.extend(unit_ids)

    def __enter__(self):
        accounts_changed.connect(self, dispatch_uid="test.dispute_fees")
        return self

    def __exit__(self, *exc):
        accounts_changed.disconnect(dispatch_uid="test.dispute_fees")


def history(unit, since) -> list[tuple]:
    return [(e.verb, e.actor.username if e.actor else e.actor_label, (e.after or {}).get("bills"))
            for e in AuditEvent.objects.filter(created_at__gte=since).filter(
                verb__regex=r"^(billing\.dispute|casework\.dispute|dunning\.hold|portal\.dispute)").order_by("pk")
            if e.object_type != "estate.unit" or e.object_id == str(unit.pk)]


def test_an_owner_disputes_one_bill_in_the_portal_its_fee_stops_until_resolved_the_other_runs(
        arrears_estate, unit, alice, carol, monkeypatch):
    from django.utils import timezone

    from wuye.legal import services as legal
    from wuye.legal.documents import draft
    from wuye.legal.pack import build_pack, verify_pack
    from wuye.portal.links import link_create
    from wuye.portal.services import dispute_raise

    started = timezone.now()
    party = liable_party(unit, D(2026, 1, 1))
    jan, feb = (Bill.objects.get(unit=unit, period_start=D(2026, m, 1)) for m in (1, 2))
    link, _token = link_create(unit=unit, actor=alice)
    raised, expired, resolved = D(2026, 3, 2), D(2026, 4, 2), D(2026, 4, 20)
    feb_disputed: list = []
    case = pack_data = None
    for day in days(D(2026, 1, 16), D(2026, 5, 31)):
        if day == D(2026, 2, 28):  # a case opened and its evidence sealed before anyone disputed
            case = legal.case_open(actor=carol, project=unit.project, party=party, on=day)
            pack_data = build_pack(actor=carol, case=case, as_of=day).zip.read()
        if day == raised:
            monkeypatch.setattr(services, "_today", lambda: raised)  # the portal dates a dispute today
            with Announced() as heard:
                request = dispute_raise(link=link, bill_ids=[feb.pk], text="二月账单的面积算错了，请核实",
                                        reason="fee_level")
            dispute = request.dispute
            assert dispute.opened_on == raised and unit.pk in heard.units
            feb_disputed = [(raised, None)]
            feb.refresh_from_db()
            assert feb.disputed_since == raised and Bill.objects.get(pk=jan.pk).disputed_since is None
        if day == expired:  # the 30-day hold runs out; the dispute is still open
            assert services.dispute_holds_expire(as_of=day) == 1
            assert BillDispute.objects.get(bill=feb).ends_on is None
        if day == resolved:
            with Announced() as heard:
                services.dispute_resolve(actor=alice, dispute=dispute, note="已复核面积无误，向业主解释", on=day)
            assert unit.pk in heard.units
            feb_disputed = [(raised, resolved)]
            assert Bill.objects.get(pk=feb.pk).disputed_since is None
        want = {b.pk: expected_fee(due=b.due_date, as_of=day, payments=[], disputed=feb_disputed if b == feb else [])
                for b in (jan, feb) if b.due_date < day}
        check_day(unit, party, day, want)
        if day == D(2026, 4, 19):  # disputed days are left out of a legal draft's claim too
            lines = {x.bill_id: x for x in case.lines.all()}
            assert lines[feb.pk].late_fee_fen == expected_fee(due=feb.due_date, as_of=D(2026, 2, 28), payments=[],
                                                              disputed=[])  # frozen on 28 Feb, before the dispute
            rows = {r[0]: r for r in draft(case, "complaint", as_of=day).rows[1:-1]}
            assert rows["2026-02"][5] == f"¥{statement_for_unit(unit, as_of=day).lines[1].late_fee.court_fen / 100:,.2f}"

    # the fee of February stopped on 2 March and ran again from 20 April: 2/21–3/1 (9 days) + 4/20–5/31 (42 days)
    assert want[feb.pk] == round_fen(AMOUNT * RATE * 51)
    assert want[jan.pk] == round_fen(AMOUNT * RATE * (D(2026, 5, 31) - D(2026, 1, 20)).days)
    explanation = statement_for_unit(unit, as_of=D(2026, 5, 31)).lines[1].late_fee.explanation
    assert "2026-03-02 至 2026-04-19 争议期间不计" in explanation
    # the interval survives the resolution, closed on its day; the pack sealed before still verifies
    assert list(BillDispute.objects.filter(bill__unit=unit).values_list("bill_id", "dispute_ref", "starts_on",
                                                                        "ends_on")) == \
        [(feb.pk, dispute.pk, raised, resolved)]
    assert verify_pack(pack_data) == []
    # the whole history of the dispute, in order (the hold had ended on its date: resolving releases nothing)
    got = history(unit, started)
    owner = f"portal:link:{link.pk}"
    assert got == [
        ("dunning.hold", owner, None),
        ("casework.dispute_open", owner, None),
        ("billing.dispute_mark", owner, [feb.pk]),
        ("portal.dispute_raise", owner, None),
        ("dunning.hold_release", "job:casework", None),
        ("casework.dispute_resolve", "alice", None),
        ("billing.dispute_unmark", "alice", [feb.pk]),
    ], got


def test_a_collectors_dispute_covers_every_open_line_a_part_payment_during_it_counts(
        arrears_estate, unit, bob_territory, alice, carol):
    from django.utils import timezone

    from wuye.legal import services as legal
    from wuye.legal.pack import build_pack, verify_pack

    started = timezone.now()
    party = liable_party(unit, D(2026, 1, 1))
    bills = list(Bill.objects.filter(unit=unit).order_by("period_start"))
    assert len(bills) == 7  # January – July 2026, nothing paid
    opened, paid_on, resolved = D(2026, 3, 10), D(2026, 3, 20), D(2026, 4, 15)
    disputed: list = []
    payments: dict[int, list] = {b.pk: [] for b in bills}
    actions_while_disputed = None
    for day in days(D(2026, 1, 16), D(2026, 5, 20)):
        run(day)
        if day == opened:
            with Announced() as heard:
                dispute = services.dispute_open(actor=bob_territory, unit=unit, reason="service",
                                                description="电梯坏了一个月没人修", on=day,
                                                hold_until=D(2026, 3, 31))
            assert unit.pk in heard.units
            assert set(BillDispute.objects.filter(dispute_ref=dispute.pk).values_list("bill_id", flat=True)) == \
                {b.pk for b in bills}
            disputed = [(opened, None)]
        if day == paid_on:  # ¥200 at the desk: January in full, ¥21 of February
            payment_record(actor=alice, unit=unit, amount_fen=20_000, method="cash",
                           paid_at=dt.datetime.combine(day, dt.time(10), tzinfo=timezone.get_current_timezone()))
            payments[bills[0].pk].append((day, AMOUNT))
            payments[bills[1].pk].append((day, 20_000 - AMOUNT))
        if day == D(2026, 4, 1):
            assert services.dispute_holds_expire(as_of=day) == 1
            actions_while_disputed = names(unit, decided_on__gt=opened)
        if day == resolved:
            services.dispute_resolve(actor=alice, dispute=dispute, note="电梯已修复，业主同意缴费", on=day)
            disputed = [(opened, resolved)]
        want = {b.pk: expected_fee(due=b.due_date, as_of=day, payments=payments[b.pk], disputed=disputed)
                for b in bills if b.due_date < day}
        check_day(unit, party, day, want)

    jan, feb, mar = bills[:3]
    # January: 1/21–3/9 (48 days), then paid in full during the dispute; February: 2/21–3/9 (17 days) on ¥179,
    # then from 4/15 on the ¥158 still open; March: from 4/15 (its fee would have begun 3/21)
    end = D(2026, 5, 20)
    assert want[jan.pk] == round_fen(AMOUNT * RATE * 48)
    assert want[feb.pk] == round_fen(AMOUNT * RATE * 17 + (AMOUNT - 2_100) * RATE * ((end - resolved).days + 1))
    assert want[mar.pk] == round_fen(AMOUNT * RATE * ((end - resolved).days + 1))
    # a case opened now claims those figures, line by line, and its evidence pack says so
    case = legal.case_open(actor=carol, project=unit.project, party=party, on=end)
    claimed = {x.bill_id: x.late_fee_fen for x in case.lines.all()}
    assert claimed == {b: f for b, f in want.items() if b != jan.pk}  # January is paid: not claimed
    assert "2026-03-10 至 2026-04-14 争议期间不计" in case.lines.get(bill=feb).late_fee_explanation
    pack = build_pack(actor=carol, case=case, as_of=end)
    assert verify_pack(pack.zip.read()) == []
    # the ladder: held by the dispute's hold, which ends on its date though the lines stay disputed
    # (only April's pre-due reminder went out while held: a dispute never stops those)
    assert actions_while_disputed == [(D(2026, 3, 31), "到期前 15 天提醒")]
    resumed = [n for d, n in names(unit, decided_on__gte=D(2026, 4, 1)) if not n.startswith("到期前")]
    assert resumed, names(unit)
    assert history(unit, started) == [
        ("dunning.hold", "bob", None),
        ("casework.dispute_open", "bob", None),
        ("billing.dispute_mark", "bob", [b.pk for b in bills]),
        ("dunning.hold_release", "job:casework", None),
        ("casework.dispute_resolve", "alice", None),
        ("billing.dispute_unmark", "alice", [b.pk for b in bills]),
    ]


def test_an_owner_adding_bills_to_an_open_dispute_extends_it_and_a_staff_dispute_may_name_bills(
        arrears_estate, unit, bob_territory, alice):
    import pytest
    from django.core.exceptions import ValidationError

    jan, feb, mar = list(Bill.objects.filter(unit=unit).order_by("period_start"))[:3]
    other = Bill.objects.exclude(unit=unit).first()
    with pytest.raises(ValidationError) as exc:
        services.dispute_open(actor=bob_territory, unit=unit, reason="service", description="保洁差",
                              on=D(2026, 3, 1), bill_ids=[jan.pk, other.pk])
    assert "bill_ids" in exc.value.message_dict and not BillDispute.objects.exists()
    dispute = services.dispute_open(actor=bob_territory, unit=unit, reason="service", description="保洁差",
                                    on=D(2026, 3, 1), bill_ids=[jan.pk])
    assert list(BillDispute.objects.values_list("bill_id", "starts_on")) == [(jan.pk, D(2026, 3, 1))]
    same, created = services.dispute_open_for_owner(unit=unit, reason="service", description="二三月也有问题",
                                                    bill_ids=[jan.pk, feb.pk, mar.pk], actor_label="portal:link",
                                                    on=D(2026, 3, 8))
    assert same == dispute and not created
    same.refresh_from_db()
    assert same.bill_ids == sorted([jan.pk, feb.pk, mar.pk])
    assert sorted(BillDispute.objects.values_list("bill_id", "starts_on")) == sorted(
        [(jan.pk, D(2026, 3, 1)), (feb.pk, D(2026, 3, 8)), (mar.pk, D(2026, 3, 8))])
    from wuye.billing.ledger import check_ledger

    assert check_ledger().mismatches == 0
    Bill.objects.filter(pk=feb.pk).update(disputed_since=D(2026, 3, 1))  # a cache written behind the intervals
    report = check_ledger(rebuild=True)
    assert report.mismatches == 1 and "open dispute intervals give 2026-03-08" in report.problems[0]
    assert Bill.objects.get(pk=feb.pk).disputed_since == D(2026, 3, 8) and check_ledger().mismatches == 0
    services.dispute_resolve(actor=alice, dispute=dispute, note="已处理", on=D(2026, 3, 20))
    assert set(BillDispute.objects.values_list("ends_on", flat=True)) == {D(2026, 3, 20)}
    assert not Bill.objects.filter(disputed_since__isnull=False).exists() and check_ledger().mismatches == 0


def test_the_intervals_are_read_set_based_whatever_the_number_of_disputed_lines(arrears_estate, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from wuye.billing.disputes import lines_mark, lines_unmark
    from wuye.billing.figures import demand_figures_many
    from wuye.billing.selectors import statements_for_units

    units = arrears_estate["units"][:30]
    for n, u in enumerate(units):
        lines_mark(unit=u, bill_ids=Bill.objects.filter(unit=u).values_list("pk", flat=True), on=D(2026, 3, 1),
                   dispute_ref=1000 + n, actor=alice)
        if n % 2:
            lines_unmark(unit=u, dispute_ref=1000 + n, on=D(2026, 4, 1), actor=alice)
    day = D(2026, 6, 30)
    with CaptureQueriesContext(connection) as few:
        statements_for_units(units[:2], as_of=day)
        demand_figures_many([(u.pk, None) for u in units[:2]], day)
    with CaptureQueriesContext(connection) as many:
        statements = statements_for_units(units, as_of=day)
        figures = demand_figures_many([(u.pk, None) for u in units], day)
    assert len(many.captured_queries) == len(few.captured_queries)
    # and what they read is what they apply: the odd units' fee ran again from 1 April
    jan = [next(x for x in statements[u.pk].lines if x.bill.period_start == D(2026, 1, 1)) for u in units[:2]]
    amount = jan[0].bill.amount_fen
    assert jan[0].late_fee.amount_fen == round_fen(amount * RATE * 39)  # 1/21–2/28 only: still disputed
    assert jan[1].late_fee.amount_fen == round_fen(jan[1].bill.amount_fen * RATE * (39 + 91))  # and 4/1–6/30
    assert {x.late_fee_accruing_fen for x in figures[(units[0].pk, None)].lines
            if x.period_start == D(2026, 1, 1)} == {jan[0].late_fee.amount_fen}


def test_the_contact_form_names_the_bills_an_owner_disputes_and_the_others_keep_their_fee(
        arrears_estate, unit, bob_territory, client):
    """The staff form had no way to say which bills the owner objects to: every open line was disputed, so a
    complaint about March's shared water stopped the fee on half a year. The form now lists the debtor's open
    lines (shown for a refusal or a dispute); the ticked ones are disputed, the rest keep accruing; a line of
    another unit is refused by name and nothing is recorded; naming bills with another outcome is refused."""
    from wuye.casework.models import ContactAttempt, Dispute

    client.force_login(bob_territory)
    url = f"/casework/units/{unit.pk}/contact/"
    html = client.get(url).content.decode()
    lines = list(Bill.objects.filter(unit=unit).order_by("period_start"))
    assert 'data-testid="dispute-bills"' in html and all(f'value="{b.pk}"' in html for b in lines)
    assert "2026年1月 物业服务费 未缴 ¥179.00" in html
    other = Bill.objects.exclude(unit=unit).first()
    r = client.post(url, {"channel": "call", "outcome": "dispute", "reason": "shared_utilities", "note": "公摊水费不对",
                          "bill_ids": [lines[2].pk, other.pk]})
    assert r.status_code == 200 and "请刷新页面后重选" in r.content.decode()
    assert not Dispute.objects.exists() and not ContactAttempt.objects.exists() and not BillDispute.objects.exists()
    r = client.post(url, {"channel": "call", "outcome": "promised", "promised_on": "2099-01-01",
                          "bill_ids": [lines[2].pk]})
    assert "只有拒交或争议时才需选择" in r.content.decode() and not ContactAttempt.objects.exists()
    r = client.post(url, {"channel": "call", "outcome": "dispute", "reason": "shared_utilities", "note": "公摊水费不对",
                          "bill_ids": [lines[2].pk, lines[3].pk]})
    assert r.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.bill_ids == [lines[2].pk, lines[3].pk]
    assert sorted(BillDispute.objects.values_list("bill_id", flat=True)) == [lines[2].pk, lines[3].pk]
    on = ContactAttempt.objects.get().on
    later = on + dt.timedelta(days=30)
    fees = {line.bill.pk: line.late_fee for line in statement_for_unit(unit, as_of=later).lines}
    assert "争议期间不计" in fees[lines[2].pk].explanation and "争议期间不计" not in fees[lines[0].pk].explanation
    assert fees[lines[0].pk].amount_fen == expected_fee(due=lines[0].due_date, as_of=later, payments=[], disputed=[])
    assert fees[lines[2].pk].amount_fen == expected_fee(due=lines[2].due_date, as_of=later, payments=[],
                                                        disputed=[(on, None)])


def test_the_contact_api_takes_the_disputed_bills(arrears_estate, unit, bob_territory):
    from rest_framework.test import APIClient

    from wuye.casework.models import Dispute

    api = APIClient()
    api.force_authenticate(bob_territory)
    jan = Bill.objects.filter(unit=unit).order_by("period_start").first()
    r = api.post("/api/v1/contacts/", {"unit": unit.pk, "channel": "call", "outcome": "refused", "reason": "service",
                                       "bill_ids": [jan.pk]}, format="json")
    assert r.status_code == 201, r.content
    assert Dispute.objects.get().bill_ids == [jan.pk]
    assert list(BillDispute.objects.values_list("bill_id", flat=True)) == [jan.pk]
