"""Legal cases: opened from a referral (frozen statement, clocks), refusals that write nothing, events with
their checks and deadlines, money recovered and costs, 支付令 eligibility naming the failing condition."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.legal.conftest import SH, jpeg_bytes, referral_for, registered_of, upload
from wuye.legal import services
from wuye.legal.choices import Event, Stage
from wuye.legal.eligibility import failed, payment_order_conditions
from wuye.legal.models import CaseDeadline, CaseEvent, CaseLine, LegalCase

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def case(lettered, carol):
    unit = lettered["units"][0]
    task = referral_for(unit)
    return services.case_open_from_referral(actor=carol, task=task, on=D(2026, 12, 1))


def test_a_case_from_a_referral_freezes_the_debtors_periods_and_closes_the_task(case, lettered):
    unit = lettered["units"][0]
    assert case.number == "FW20260001" and case.stage == Stage.REVIEW
    assert case.party.name == "业主001" and case.source_task.status == "done"
    assert "FW20260001" in case.source_task.close_note
    lines = list(case.lines.order_by("period_start"))
    assert [x.period_start for x in lines] == [D(2026, m, 1) for m in range(1, 8)]
    assert all(x.unit_id == unit.pk and x.open_fen == x.amount_fen == 17_900 for x in lines)
    assert case.principal_fen == 7 * 17_900
    assert case.late_fee_fen > case.court_late_fee_fen > 0  # 0.5‰ a day against LPR × 1.3
    assert lines[0].late_fee_explanation.startswith("¥179.00 × 0.5‰")
    assert lines[0].expiry == D(2029, 1, 16) and lines[0].holiday_unchecked and not lines[0].barred
    assert CaseEvent.objects.filter(case=case, event=Event.OPENED).count() == 1


def test_a_settled_account_is_refused_and_nothing_is_written(lettered, carol, alice):
    from wuye.billing.services import payment_record

    unit = lettered["units"][1]
    task = referral_for(unit)
    payment_record(actor=alice, unit=unit, amount_fen=7 * 18_100, method="cash")
    with pytest.raises(ValidationError) as exc:
        services.case_open_from_referral(actor=carol, task=task, on=TODAY)
    assert "没有逾期未缴的费用" in str(exc.value)
    assert not LegalCase.objects.exists() and not CaseLine.objects.exists()
    task.refresh_from_db()
    assert task.status == "open"


def test_a_second_case_for_the_same_debtor_is_refused(case, carol):
    with pytest.raises(ValidationError, match="已有未结案件 FW20260001"):
        services.case_open(actor=carol, project=case.project, party=case.party, on=TODAY)
    assert LegalCase.objects.count() == 1


def test_collectors_cannot_open_cases(lettered, bob):
    with pytest.raises(PermissionDenied):
        services.case_open_from_referral(actor=bob, task=referral_for(lettered["units"][0]), on=TODAY)


def test_the_case_claims_only_its_debtors_periods_after_a_sale(lettered, carol, alice):
    """Periods billed to the seller stay the seller's: a case against the buyer claims the buyer's only."""
    from wuye.billing.models import Bill
    from wuye.estate.models import Party

    unit = lettered["units"][0]
    buyer = Party.objects.create(name="买受人甲", natural_key="buyer-1")
    Bill.objects.filter(unit=unit, period_start__gte=D(2026, 5, 1)).update(party=buyer)
    case = services.case_open(actor=carol, project=unit.project, party=buyer, on=TODAY)
    assert [x.period_start.month for x in case.lines.order_by("period_start")] == [5, 6, 7]


def test_payment_order_refused_for_disputed_periods_naming_the_condition(case, carol, alice):
    from wuye.casework.services import dispute_open

    unit = case.lines.first().unit
    dispute_open(actor=alice, unit=unit, reason="service", description="电梯长期故障", on=TODAY)
    before = CaseEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.case_event_add(actor=carol, case=case, event=Event.PAYMENT_ORDER_FILED, on=TODAY, court="测试区人民法院")
    text = str(exc.value)
    assert "债权债务无争议" in text and "2026-01" in text and "有未解决的争议" in text
    assert CaseEvent.objects.count() == before
    case.refresh_from_db()
    assert case.stage == Stage.REVIEW


def test_payment_order_needs_a_delivered_demand_for_every_period(case, carol, lettered):
    conditions = {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}
    assert not conditions["demand"].ok
    assert "2026-01" in conditions["demand"].detail  # the registered letter was posted, never signed for
    # the EMS 签收 comes back: January–April are covered, May–July are not
    action = registered_of(lettered["units"][0])
    services.proof_upload(actor=carol, upload=upload(jpeg_bytes(), "ems.jpg"), kind="ems", task=action.task,
                          tracking_no="EA123456789CN", signed_by="业主001", relation="本人", signed_on=D(2026, 4, 25))
    conditions = {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}
    assert not conditions["demand"].ok and "2026-05、2026-06、2026-07" in conditions["demand"].detail
    assert "2026-04" not in conditions["demand"].detail
    for code in ("matured", "undisputed", "address", "late_fee_clause", "limitation", "owing"):
        assert conditions[code].ok, conditions[code]


def test_payment_order_accepted_once_conditions_hold_then_objection_deadline(case, carol, lettered):
    from tests.legal.conftest import Book  # noqa: F401  (history helpers live there)
    from wuye.dunning.models import Action

    unit = lettered["units"][0]
    action = registered_of(unit)
    Action.objects.filter(pk=action.pk).update(
        status="delivered", delivered_at=dt.datetime(2026, 11, 2, 10, tzinfo=SH), deadline=D(2026, 11, 10),
        periods=[D(2026, m, 1).isoformat() for m in range(1, 8)])
    assert not failed(payment_order_conditions(case, as_of=TODAY))
    ev = services.case_event_add(actor=carol, case=case, event=Event.PAYMENT_ORDER_FILED, on=TODAY,
                                 court="测试区人民法院")
    case.refresh_from_db()
    assert case.stage == Stage.PAYMENT_ORDER and ev.court == "测试区人民法院"
    services.case_event_add(actor=carol, case=case, event=Event.PAYMENT_ORDER_ISSUED, on=TODAY)
    d = CaseDeadline.objects.get(case=case, kind="objection")
    assert d.due_on == D(2026, 12, 21)  # 15 days → Saturday 19 December → Monday 21 December


def test_a_demand_addressed_to_someone_else_is_no_demand_on_this_debtor(case, carol, lettered):
    """The unit's letter went to a new owner (the action's debtor): it did not reach the case's debtor, so the
    支付令 check still asks for a demand and the drafts do not cite it."""
    from wuye.dunning.models import Action
    from wuye.estate.models import Party
    from wuye.legal.choices import DocumentKind
    from wuye.legal.documents import draft

    buyer = Party.objects.create(name="买受人乙", natural_key="buyer-2")
    action = registered_of(lettered["units"][0])
    Action.objects.filter(pk=action.pk).update(
        status="delivered", delivered_at=dt.datetime(2026, 11, 2, 10, tzinfo=SH), deadline=D(2026, 11, 10),
        periods=[D(2026, m, 1).isoformat() for m in range(1, 8)], party=buyer)
    conditions = {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}
    assert not conditions["demand"].ok and "2026-01" in conditions["demand"].detail
    text = "".join(draft(case, DocumentKind.PAYMENT_ORDER, as_of=TODAY).paragraphs)
    assert "2026年11月2日" not in text and "（书面催告日期）" in text
    Action.objects.filter(pk=action.pk).update(party=case.party)  # addressed to the debtor: it counts
    assert {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}["demand"].ok
    assert "2026年11月2日以挂号信" in "".join(draft(case, DocumentKind.PAYMENT_ORDER, as_of=TODAY).paragraphs)


def test_the_drafts_cite_only_demands_naming_a_period_they_claim(case, lettered):
    """「申请人已于……书面催告」 names demands that asked for the periods claimed; a delivered message about
    other periods (or none) is not cited as the demand for this claim."""
    from wuye.dunning.models import Action
    from wuye.legal.choices import DocumentKind
    from wuye.legal.documents import draft

    action = registered_of(lettered["units"][0])
    Action.objects.filter(pk=action.pk).update(status="delivered", delivered_at=dt.datetime(2026, 11, 2, 10, tzinfo=SH),
                                               periods=["2025-12-01"], party=case.party)
    assert "2026年11月2日" not in "".join(draft(case, DocumentKind.PAYMENT_ORDER, as_of=TODAY).paragraphs)
    Action.objects.filter(pk=action.pk).update(periods=["2026-03-01"])
    assert "2026年11月2日以挂号信" in "".join(draft(case, DocumentKind.PAYMENT_ORDER, as_of=TODAY).paragraphs)


def test_a_sellers_old_flat_is_no_address_for_the_seller(case, carol, alice):
    """Once the flat is sold and the buyer lives there, a 支付令 against the seller cannot be served at it: the
    address condition fails until the seller's own postal address is on record."""
    from wuye.estate.choices import ContactKind, OccupantRole
    from wuye.estate.models import ContactPoint, Occupancy, Party
    from wuye.estate.services import occupancy_start

    unit = case.lines.first().unit
    assert {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}["address"].ok
    buyer = Party.objects.create(name="买受人丁", natural_key="buyer-4")
    occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=D(2026, 11, 1))
    assert Occupancy.objects.filter(unit=unit, party=case.party, end__isnull=False).exists()
    address = {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}["address"]
    assert not address.ok and "不在该房屋居住" in address.detail
    ContactPoint.objects.create(party=case.party, kind=ContactKind.ADDRESS, value="杭州市西湖区文三路 1 号")
    address = {c.code: c for c in payment_order_conditions(case, as_of=TODAY)}["address"]
    assert address.ok and "文三路" in address.detail


def test_lawyer_letter_issued_needs_firm_lawyer_licence_and_pdf(case, carol):
    with pytest.raises(ValidationError) as exc:
        services.case_event_add(actor=carol, case=case, event=Event.LETTER_ISSUED, on=TODAY, law_firm="某某律师事务所",
                                lawyer_name="王律师", lawyer_licence="12345")
    errors = exc.value.message_dict
    assert "17 位数字" in errors["lawyer_licence"][0] and "PDF" in errors["document"][0]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ev = services.case_event_add(actor=carol, case=case, event=Event.LETTER_ISSUED, on=TODAY, law_firm="某某律师事务所",
                                 lawyer_name="王律师", lawyer_licence="13101201810123456",
                                 document=upload(pdf, "letter.pdf"))
    assert ev.document_sha256 and ev.document.name.endswith(".pdf")
    case.refresh_from_db()
    assert case.stage == Stage.LAWYER_LETTER


def _sued(case, carol):
    from wuye.dunning.models import Action

    Action.objects.filter(unit_id=case.lines.first().unit_id, channel="registered").update(
        status="delivered", delivered_at=dt.datetime(2026, 11, 2, 10, tzinfo=SH), deadline=D(2026, 11, 10),
        periods=[D(2026, m, 1).isoformat() for m in range(1, 8)])
    services.case_event_add(actor=carol, case=case, event=Event.LAWSUIT_FILED, on=D(2026, 12, 2), court="测试区人民法院",
                            docket_no="(2026)测0101民初1号")


def _deadlines(case):
    return dict(CaseDeadline.objects.filter(case=case).values_list("kind", "due_on"))


def test_judgment_adds_appeal_and_enforcement_deadlines_and_closing(case, carol):
    with pytest.raises(ValidationError, match="尚未登记起诉立案"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=TODAY, amount_fen=1, due_on=TODAY)
    _sued(case, carol)
    with pytest.raises(ValidationError, match="判决/调解确定的金额"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2))
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2), amount_fen=125_300,
                            due_on=D(2026, 12, 31), served_on=D(2026, 12, 3))
    kinds = _deadlines(case)
    assert kinds["appeal"] == D(2026, 12, 18)  # 15 days from service (12-03), not from the judgment (12-17)
    assert kinds["enforcement"] == D(2028, 12, 31)  # two years from the performance date (not yet checked)
    assert CaseEvent.objects.filter(case=case, event=Event.JUDGMENT_SERVED, on=D(2026, 12, 3)).count() == 1
    services.case_event_add(actor=carol, case=case, event=Event.CLOSED, on=TODAY, outcome="paid")
    case.refresh_from_db()
    assert case.stage == Stage.CLOSED and case.closed_on == TODAY and case.outcome == "paid"
    with pytest.raises(ValidationError, match="已于"):
        services.case_event_add(actor=carol, case=case, event=Event.HEARING, on=TODAY)


def test_the_appeal_period_runs_from_service_and_is_unknown_until_then(case, carol, client):
    """民诉法 171: fifteen days from the day the judgment is served. A judgment entered without its service date
    has no 上诉期 (the case page says the date is missing); the service, entered later, starts it."""
    _sued(case, carol)
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2), amount_fen=125_300)
    assert "appeal" not in _deadlines(case) and "enforcement" not in _deadlines(case)
    client.force_login(carol)
    page = client.get(f"/legal/cases/{case.pk}/").content.decode()
    assert "上诉期：判决书送达日期未登记，无法计算" in page and 'data-testid="enforcement-unknown"' in page
    with pytest.raises(ValidationError) as exc:
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_SERVED, on=D(2026, 12, 1))
    assert "不能早于" in str(exc.value)  # before the opening and the judgment
    with pytest.raises(ValidationError, match="不能晚于今天"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_SERVED, on=TODAY + dt.timedelta(days=1))
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_SERVED, on=D(2026, 12, 3))
    assert _deadlines(case)["appeal"] == D(2026, 12, 18)
    with pytest.raises(ValidationError, match="送达日期已登记"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_SERVED, on=TODAY)
    page = client.get(f"/legal/cases/{case.pk}/").content.decode()
    assert 'data-testid="appeal-unknown"' not in page and "2026-12-18" in page


def test_the_service_date_given_with_the_judgment_is_checked(case, carol):
    _sued(case, carol)
    for served, words in ((D(2026, 12, 1), "不能早于判决日期"), (TODAY + dt.timedelta(days=1), "不能晚于今天")):
        with pytest.raises(ValidationError) as exc:
            services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2),
                                    amount_fen=125_300, served_on=served)
        assert words in exc.value.message_dict["served_on"][0]
    assert not CaseEvent.objects.filter(case=case, event__in=[Event.JUDGMENT, Event.JUDGMENT_SERVED]).exists()
    with pytest.raises(ValidationError, match="送达日期只随判决登记"):
        services.case_event_add(actor=carol, case=case, event=Event.HEARING, on=TODAY, served_on=TODAY)


def test_enforcement_runs_from_taking_effect_when_the_judgment_sets_no_date(case, carol):
    """民诉法 250: two years from the last day of performance; a judgment saying «生效之日起十日内» gives that day
    only once it has taken effect (a 判决生效 event with the day), and one setting no period from taking effect."""
    _sued(case, carol)
    with pytest.raises(ValidationError, match="尚未登记判决"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=TODAY)
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2), amount_fen=125_300,
                            served_on=D(2026, 12, 3))
    with pytest.raises(ValidationError, match="不能早于判决书送达日期"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=D(2026, 12, 2))
    with pytest.raises(ValidationError, match="不能早于生效日期"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=TODAY,
                                due_on=D(2026, 12, 3))
    assert "enforcement" not in _deadlines(case)
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=TODAY, due_on=D(2026, 12, 14))
    assert _deadlines(case)["enforcement"] == D(2028, 12, 14)
    assert services.judgment_dates(case).enforcement_from == D(2026, 12, 14)
    with pytest.raises(ValidationError, match="生效日期已登记"):
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=TODAY)


def test_enforcement_from_taking_effect_with_no_performance_period(case, carol):
    _sued(case, carol)
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2), amount_fen=125_300)
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=D(2026, 12, 3))
    row = CaseDeadline.objects.get(case=case, kind="enforcement")
    # two years from taking effect; 2028's rest days are not in any calendar yet: the unextended date, flagged
    assert row.due_on == D(2028, 12, 3) and "判决生效（2026-12-03，未定履行期间）" in row.note and "节假日待核" in row.note


def test_the_api_takes_the_service_date_with_the_judgment(case, carol, client):
    _sued(case, carol)
    client.force_login(carol)
    url = f"/api/v1/legal/cases/{case.pk}/events/"
    r = client.post(url, {"event": "judgment", "on": "2026-12-02", "amount_fen": 125_300, "served_on": "2026-12-01"},
                    content_type="application/json")
    assert r.status_code == 400 and "served_on" in r.json()["error"]["fields"]
    r = client.post(url, {"event": "judgment", "on": "2026-12-02", "amount_fen": 125_300, "served_on": "2026-12-03"},
                    content_type="application/json")
    assert r.status_code == 201, r.content
    assert _deadlines(case)["appeal"] == D(2026, 12, 18)
    judgment = client.get(f"/api/v1/legal/cases/{case.pk}/").json()["judgment"]
    assert judgment["served_on"] == "2026-12-03" and judgment["enforcement_from"] is None


def test_lawsuit_refused_without_a_delivered_demand(case, carol):
    with pytest.raises(ValidationError) as exc:
        services.case_event_add(actor=carol, case=case, event=Event.LAWSUIT_FILED, on=TODAY, court="测试区人民法院")
    assert "已书面催告且期限已过" in str(exc.value)
    assert not CaseEvent.objects.filter(event=Event.LAWSUIT_FILED).exists()


def test_payment_after_opening_shows_on_the_case_and_counts_as_recovered(case, carol, alice):
    from wuye.billing.services import payment_record
    from wuye.legal.selectors import payments_since_opening, recovered_by_case

    unit = case.lines.first().unit
    payment_record(actor=alice, unit=unit, amount_fen=20_000, method="cash")
    assert [p.amount_fen for p in payments_since_opening(case)] == [20_000]
    assert recovered_by_case([case.pk]) == {case.pk: 20_000}
    services.cost_add(actor=carol, case=case, kind="court_fee", amount_fen=5_000, on=TODAY)
    with pytest.raises(ValidationError, match="大于 0"):
        services.cost_add(actor=carol, case=case, kind="court_fee", amount_fen=0, on=TODAY)


def test_a_payment_made_before_the_case_was_entered_is_not_recovered_by_it(lettered, carol, alice):
    """The opening freezes what is open when the case is written: a payment made earlier that day (or between a
    back-dated opening day and its entry) is already out of the principal, so it is not counted again as
    money the case recovered — principal − recovered = open now."""
    from wuye.billing.models import Bill
    from wuye.billing.services import payment_record
    from wuye.legal.selectors import recovered_by_case

    unit = lettered["units"][0]
    payment_record(actor=alice, unit=unit, amount_fen=20_000, method="cash")
    case = services.case_open_from_referral(actor=carol, task=referral_for(unit), on=TODAY)
    assert case.principal_fen == 7 * 17_900 - 20_000
    assert recovered_by_case([case.pk]) == {}
    payment_record(actor=alice, unit=unit, amount_fen=5_000, method="cash")
    assert recovered_by_case([case.pk]) == {case.pk: 5_000}
    open_now = sum(b.amount_fen - b.settled_fen for b in Bill.objects.filter(pk__in=case.lines.values("bill_id")))
    assert case.principal_fen - recovered_by_case([case.pk])[case.pk] == open_now


def test_event_dates_are_checked(case, carol):
    with pytest.raises(ValidationError, match="不能晚于今天"):
        services.case_event_add(actor=carol, case=case, event=Event.NOTE, on=TODAY + dt.timedelta(days=1), note="x")
    with pytest.raises(ValidationError, match="不能早于立案日期"):
        services.case_event_add(actor=carol, case=case, event=Event.NOTE, on=D(2026, 1, 1), note="x")
    with pytest.raises(ValidationError, match="调解组织"):
        services.case_event_add(actor=carol, case=case, event=Event.MEDIATION_REQUESTED, on=TODAY)
    services.case_event_add(actor=carol, case=case, event=Event.MEDIATION_REQUESTED, on=TODAY,
                            mediator="peoples_mediation")
    case.refresh_from_db()
    assert case.stage == Stage.MEDIATION


def test_deadline_reminders(case, carol):
    d = services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(2026, 12, 10), note="第一次开庭")
    assert services.deadlines_remind(today=D(2026, 12, 2)) == 0
    assert services.deadlines_remind(today=D(2026, 12, 3)) == 1
    assert services.deadlines_remind(today=D(2026, 12, 4)) == 0  # once
    d.refresh_from_db()
    assert d.reminded_on == D(2026, 12, 3)


def test_a_deadline_in_the_year_9999_is_refused(case, carol):
    """Red team: a 期限 due 9999-12-31 was accepted (and its reminder dates are past the calendar)."""
    with pytest.raises(ValidationError) as refused:
        services.deadline_add(actor=carol, case=case, kind="hearing", due_on=D(9999, 12, 31))
    assert "期限不能晚于立案日期后 10 年" in str(refused.value)
    assert not CaseDeadline.objects.filter(case=case, kind="hearing").exists()


def test_a_judgment_past_the_bounds_is_refused_naming_the_field_and_writes_nothing(case, carol):
    """Red team: a judgment or mediation due 9999-12-31 was a 500 (the enforcement deadline two years on is past
    year 9999), an amount of 10**19 overflowed the column, a 300-character licence number was a PostgreSQL
    DataError. Each is refused with a message naming its field; no event and no deadline is written."""
    from wuye.common.formatting import AMOUNT_TOO_LARGE

    _sued(case, carol)
    events, deadlines = CaseEvent.objects.filter(case=case).count(), CaseDeadline.objects.filter(case=case).count()
    far = D(9999, 12, 31)
    for event, kwargs, field, words in [
        (Event.JUDGMENT, {"amount_fen": 125_300, "due_on": far}, "due_on", "履行期限届满日不能晚于"),
        (Event.COURT_MEDIATION, {"amount_fen": 125_300, "due_on": far}, "due_on", "履行期限届满日不能晚于"),
        (Event.JUDGMENT, {"amount_fen": 10**19, "due_on": D(2026, 12, 31)}, "amount_fen", AMOUNT_TOO_LARGE),
        (Event.NOTE, {"note": "备注", "lawyer_licence": "1" * 300}, "lawyer_licence", "律师执业证号不能超过 40"),
        (Event.NOTE, {"note": "备" * 501}, "note", "说明不能超过 500"),
        (Event.HEARING, {"court": "法" * 101}, "court", "法院不能超过 100"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.case_event_add(actor=carol, case=case, event=event, on=D(2026, 12, 2), **kwargs)
        assert words in exc.value.message_dict[field][0], (event, field, exc.value.message_dict)
    assert CaseEvent.objects.filter(case=case).count() == events
    assert CaseDeadline.objects.filter(case=case).count() == deadlines
    # a performance period ten years long is still taken, and counted on from its end
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2), amount_fen=125_300,
                            due_on=D(2036, 12, 2))
    assert _deadlines(case)["enforcement"].year == 2038


def test_the_performance_date_given_when_the_judgment_takes_effect_is_bounded(case, carol):
    _sued(case, carol)
    services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT, on=D(2026, 12, 2), amount_fen=125_300)
    with pytest.raises(ValidationError) as exc:
        services.case_event_add(actor=carol, case=case, event=Event.JUDGMENT_EFFECTIVE, on=TODAY,
                                due_on=D(9999, 12, 31))
    assert "履行期限届满日不能晚于" in exc.value.message_dict["due_on"][0]
    assert not CaseEvent.objects.filter(case=case, event=Event.JUDGMENT_EFFECTIVE).exists()


def test_a_case_cost_past_the_bound_is_refused(case, carol):
    from wuye.common.formatting import AMOUNT_MAX_FEN, AMOUNT_TOO_LARGE
    from wuye.legal.models import CaseCost

    with pytest.raises(ValidationError) as exc:
        services.cost_add(actor=carol, case=case, kind="lawyer_fee", amount_fen=10**19, on=TODAY)
    assert exc.value.message_dict["amount_fen"] == [AMOUNT_TOO_LARGE]
    assert not CaseCost.objects.exists()
    services.cost_add(actor=carol, case=case, kind="lawyer_fee", amount_fen=AMOUNT_MAX_FEN, on=TODAY)
    assert CaseCost.objects.get().amount_fen == AMOUNT_MAX_FEN
