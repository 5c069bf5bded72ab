"""Pages and API of the legal module: the legal role lands on its case list, collectors see nothing of it, the
case page shows the statement with clocks and the 支付令 check, the statement page and the worklist show the
clock, the API opens cases and refuses with the reason."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.legal.conftest import png_bytes, referral_for, registered_of, upload
from wuye.legal import services
from wuye.legal.models import EvidencePack, LegalCase

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def case(lettered, carol):
    return services.case_open_from_referral(actor=carol, task=referral_for(lettered["units"][0]), on=TODAY)


def test_legal_lands_on_the_case_list_after_login(client, carol):
    r = client.post("/login/", {"username": "carol", "password": "pw-12345678"})
    assert r.status_code == 302 and r["Location"] == "/legal/"


@pytest.mark.parametrize("role,landing", [("collector", "/casework/"), ("finance", "/estate/units/"),
                                          ("manager", "/insights/"), ("service", "/"), ("engineering", "/")])
def test_other_roles_land_on_their_own_first_page(client, make_user, role, landing):
    make_user("someone", role)
    r = client.post("/login/", {"username": "someone", "password": "pw-12345678"})
    assert r["Location"] == landing


@pytest.mark.parametrize("path", ["/legal/", "/legal/numbers/", "/legal/templates/", "/legal/court-fee/"])
def test_collectors_do_not_see_legal_pages(client, bob, path):
    client.force_login(bob)
    assert client.get(path).status_code == 403


def test_collectors_get_403_from_the_legal_api(client, bob, case):
    client.force_login(bob)
    assert client.get("/api/v1/legal/cases/").status_code == 403
    assert client.get(f"/api/v1/legal/cases/{case.pk}/").status_code == 403
    assert client.get("/api/v1/legal/court-fee/?amount_fen=100").status_code == 403


def test_case_list_shows_referrals_and_opens_one(client, carol, lettered):
    task = referral_for(lettered["units"][2])
    client.force_login(carol)
    page = client.get("/legal/").content.decode()
    assert "待处理的律师函转介" in page and task.title in page
    r = client.post(f"/legal/referrals/{task.pk}/open/")
    case = LegalCase.objects.get()
    assert r["Location"] == f"/legal/cases/{case.pk}/"
    page = client.get(r["Location"]).content.decode()
    assert case.number in page and "支付令条件" in page and "2026-01" in page and "节假日待核" in page
    assert "已书面催告且期限已过" in page


def test_case_page_events_and_refusals_are_shown(client, carol, case):
    client.force_login(carol)
    r = client.post(f"/legal/cases/{case.pk}/events/", {"event": "payment_order_filed", "on": "2026-12-04",
                                                       "court": "测试区人民法院"}, follow=True)
    text = r.content.decode()
    assert "未登记：" in text and "不符合申请支付令的条件" in text
    r = client.post(f"/legal/cases/{case.pk}/events/", {"event": "mediation_requested", "on": "2026-12-04",
                                                       "mediator": "neighbourhood"}, follow=True)
    assert "已登记：申请调解" in r.content.decode()
    r = client.post(f"/legal/cases/{case.pk}/costs/", {"kind": "lawyer_fee", "amount": "3000", "on": "2026-12-04"},
                    follow=True)
    assert "费用已登记" in r.content.decode() and "¥3,000.00" in r.content.decode()


def test_documents_download_as_pdf_and_docx(client, carol, case):
    client.force_login(carol)
    r = client.get(f"/legal/cases/{case.pk}/documents/payment_order.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    r = client.get(f"/legal/cases/{case.pk}/documents/complaint.docx")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert client.get(f"/legal/cases/{case.pk}/documents/nonsense.pdf").status_code == 404


def test_pack_built_from_the_page_downloads(client, carol, case):
    client.force_login(carol)
    r = client.post(f"/legal/cases/{case.pk}/packs/", follow=True)
    assert "证据包已生成" in r.content.decode()
    pack = EvidencePack.objects.get()
    pdf = client.get(f"/legal/packs/{pack.pk}/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    z = client.get(f"/legal/packs/{pack.pk}/zip/")
    assert b"".join(z.streaming_content)[:2] == b"PK"


def test_proof_page_upload_marks_delivered(client, carol, lettered):
    client.force_login(carol)
    action = registered_of(lettered["units"][0])
    page = client.get("/legal/proofs/?unit=1-101").content.decode()
    assert "1-101" in page and "1-102" not in page
    r = client.post(f"/legal/proofs/{action.pk}/upload/", {
        "kind": "ems", "tracking_no": "ea 123456789 cn", "signed_by": "业主001", "relation": "本人",
        "signed_on": "2026-04-25", "delivered": "on", "file": upload(png_bytes(), "ems.png")}, follow=True)
    assert "该催缴已记为送达" in r.content.decode()
    action.refresh_from_db()
    assert action.status == "delivered" and action.delivery_proofs.get().tracking_no == "EA123456789CN"


def test_collector_uploads_a_signed_receipt_in_their_territory_only(client, bob_territory, lettered):
    client.force_login(bob_territory)
    mine = registered_of(lettered["units"][0])
    other = registered_of(lettered["units"][-1])
    data = {"kind": "signed_receipt", "signed_by": "家属", "relation": "同住成年家属", "signed_on": "2026-04-26",
            "delivered": "on"}
    r = client.post(f"/legal/proofs/{other.pk}/upload/", {**data, "file": upload(png_bytes())})
    assert r.status_code == 404
    r = client.post(f"/legal/proofs/{mine.pk}/upload/", {**data, "file": upload(png_bytes())}, follow=True)
    assert "已记为送达" in r.content.decode()


def test_statement_page_shows_each_periods_clock(client, carol, lettered):
    client.force_login(carol)
    unit = lettered["units"][0]
    page = client.get(f"/billing/units/{unit.pk}/").content.decode()
    assert 'data-testid="clock"' in page and "时效至 2029-01-16" in page and "节假日待核" in page


def test_worklist_warns_of_periods_about_to_be_time_barred(client, bob_territory, book, estate, monkeypatch):
    from wuye.casework import selectors as cw

    unit = estate["units"][0]
    book.line(unit, D(2023, 12, 15))  # runs out 2026-12-16: within 60 days of 2026-12-04
    book.line(unit, D(2023, 3, 15))  # ran out 2026-03-16
    book.line(unit, D(2024, 6, 15))
    wl = cw.worklist(user=bob_territory, day=TODAY)
    row = next(r for r in wl.rows if r.unit_id == unit.pk)
    assert (row.limitation_soon, row.limitation_barred) == (1, 1)
    client.force_login(bob_territory)
    page = client.get("/casework/").content.decode()
    assert "1 期将于 60 天内超过诉讼时效" in page and "1 期已过诉讼时效" in page
    api = client.get("/api/v1/worklist/").json()
    r = next(x for x in api["rows"] if x["unit_id"] == unit.pk)
    assert r["limitation_soon"] == 1 and r["limitation_barred"] == 1


def test_expiring_periods_for_the_engine(book, estate):
    from wuye.legal.clocks import limitation_clocks
    from wuye.legal.selectors import expiring_periods

    u1, u2 = estate["units"][0], estate["units"][1]
    a = book.line(u1, D(2023, 12, 15))  # → 2026-12-16
    book.line(u1, D(2023, 3, 15))  # barred
    b = book.line(u2, D(2024, 1, 15))  # → 2027-01-16: within 90 days
    c = book.line(u2, D(2024, 2, 15))  # → 2027-02-16, 74 days: within 90
    d = book.line(u2, D(2024, 5, 15))  # → 2027-05-16: not within 90
    book.demand(u2, [c.period_start], channel="sms", delivered=D(2024, 6, 1))  # c restarted → 2027-06-01
    got = expiring_periods(as_of=TODAY, within_days=90)
    assert got == {(u1.pk, a.party_id): [a.period_start.isoformat()], (u2.pk, b.party_id): [b.period_start.isoformat()]}
    # the same answer as filtering every clock (the pre-filter on due dates changes nothing)
    full = {(lc.unit_id, lc.party_id, lc.period_start) for lc in limitation_clocks(as_of=TODAY)
            if 0 <= lc.clock.days_left(TODAY) <= 90}
    assert full == {(u1.pk, a.party_id, a.period_start), (u2.pk, b.party_id, b.period_start)}
    assert d.period_start.isoformat() not in got.get((u2.pk, d.party_id), [])


def test_api_opens_a_case_refuses_settled_and_reports_clocks(client, carol, lettered, alice):
    from wuye.billing.services import payment_record

    client.force_login(carol)
    unit, settled = lettered["units"][0], lettered["units"][1]
    task = referral_for(unit)
    r = client.post("/api/v1/legal/cases/", {"task": task.pk}, content_type="application/json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["number"] == "FW20260001" and len(body["lines"]) == 7 and body["principal_fen"] == 125_300
    payment_record(actor=alice, unit=settled, amount_fen=7 * 18_100, method="cash")
    party = services.liable_party(settled, TODAY)
    r = client.post("/api/v1/legal/cases/", {"project": unit.project_id, "party": party.pk},
                    content_type="application/json")
    assert r.status_code == 400 and "没有逾期未缴的费用" in r.json()["error"]["fields"]["party"][0]
    case_id = body["id"]
    r = client.get(f"/api/v1/legal/cases/{case_id}/payment-order-check/")
    codes = {c["code"]: c["ok"] for c in r.json()}
    assert codes["demand"] is False and codes["undisputed"] is True
    r = client.get(f"/api/v1/legal/clocks/?unit={unit.pk}")
    first = r.json()[0]
    assert first["expiry"] == "2029-01-16" and first["holiday_unchecked"] is True and first["barred"] is False
    r = client.get("/api/v1/legal/court-fee/?amount_fen=5000000&kind=payment_order")
    assert r.json()["fee_fen"] == 35_000
    r = client.get("/api/v1/legal/court-fee/?amount_fen=-3")
    assert r.status_code == 400
    r = client.post(f"/api/v1/legal/cases/{case_id}/packs/")
    assert r.status_code == 201 and r.json()["exhibits"] == 10


def test_api_proof_upload(client, carol, lettered):
    client.force_login(carol)
    action = registered_of(lettered["units"][0])
    r = client.post("/api/v1/legal/proofs/", {"action": action.pk, "kind": "ems", "tracking_no": "EA123456789CN",
                                              "signed_by": "业主001", "relation": "本人", "signed_on": "2026-04-25",
                                              "file": upload(png_bytes())})
    assert r.status_code == 201 and len(r.json()["sha256"]) == 64
    r = client.post("/api/v1/legal/proofs/", {"action": action.pk, "kind": "ems", "tracking_no": "EA123456789CN",
                                              "signed_by": "x", "relation": "本人", "signed_on": "2026-04-25",
                                              "file": upload(b"GIF89a...", "a.gif")})
    assert r.status_code == 400 and "只接受" in r.json()["error"]["fields"]["file"][0]


def test_numbers_page_recomputes_the_summary(client, carol, book, estate):
    book.line(estate["units"][0], D(2023, 12, 15))
    client.force_login(carol)
    r = client.post("/legal/numbers/", follow=True)
    text = r.content.decode()
    assert "诉讼时效概况已重新计算" in text and "测试花园" in text
    from wuye.legal.models import ClockSummary

    s = ClockSummary.objects.get()
    assert (s.within_30, s.within_60, s.within_90, s.barred) == (1, 1, 1, 0)


def test_calculator_page(client, carol):
    client.force_login(carol)
    r = client.get("/legal/court-fee/?amount=50000&kind=summary")
    assert "¥525.00" in r.content.decode()


def test_the_case_is_handed_to_another_owner_on_the_page_and_by_the_api(client, carol, make_user, bob, case):
    """承办人: legal staff, managers and admins of the project may hold a case; a collector, someone working in
    another project, the same owner or a closed case are refused naming the field, and nothing changes."""
    from wuye.accounts.choices import Role
    from wuye.accounts.models import AuditEvent
    from wuye.estate.models import Project
    from wuye.legal.models import CaseEvent

    dan = make_user("dan", Role.LEGAL, display_name="丁律")
    elsewhere = make_user("erin", Role.LEGAL)
    elsewhere.projects.add(Project.objects.create(code="T9", name="别处花园"))
    client.force_login(carol)
    page = client.get(f"/legal/cases/{case.pk}/").content.decode()
    assert 'data-testid="owner-form"' in page and ">dan<" not in page.split('data-testid="owner-form"')[0][-50:]
    form = page.split('data-testid="owner-form"')[1].split("</form>")[0]
    assert f'value="{dan.pk}"' in form and f'value="{bob.pk}"' not in form and f'value="{elsewhere.pk}"' not in form

    client.post(f"/legal/cases/{case.pk}/owner/", {"owner": dan.pk, "note": "休假交接"})
    case.refresh_from_db()
    assert case.owner == dan
    note = CaseEvent.objects.filter(case=case, event="note").get()
    assert "改为" in note.note and "休假交接" in note.note and note.created_by == carol
    assert AuditEvent.objects.filter(verb="legal.case_assign").count() == 1

    for who, needle in ((bob, "不能承办本案"), (elsewhere, "不能承办本案"), (dan, "已是本案承办人")):
        r = client.post(f"/api/v1/legal/cases/{case.pk}/owner/", {"owner": who.pk}, content_type="application/json")
        assert r.status_code == 400 and needle in str(r.json()), r.json()
    r = client.post(f"/api/v1/legal/cases/{case.pk}/owner/", {"owner": carol.pk}, content_type="application/json")
    assert r.status_code == 200 and r.json()["owner"] == carol.pk
    services.case_event_add(actor=carol, case=case, event="closed", on=TODAY, outcome="withdrawn")
    r = client.post(f"/api/v1/legal/cases/{case.pk}/owner/", {"owner": dan.pk}, content_type="application/json")
    assert r.status_code == 400 and "结案" in str(r.json()), r.json()
    case.refresh_from_db()
    assert case.owner == carol and AuditEvent.objects.filter(verb="legal.case_assign").count() == 2
    client.force_login(bob)
    assert client.post(f"/api/v1/legal/cases/{case.pk}/owner/", {"owner": bob.pk},
                       content_type="application/json").status_code == 403


def test_a_deadline_in_its_reminder_window_is_listed_on_the_case_list(client, carol, case):
    """申请执行 is reminded 60 days ahead: once the daily job marks it, the case list shows it although it is more
    than two weeks away; a deadline not yet in its window is not listed."""
    from wuye.legal.choices import DeadlineKind

    far = services.deadline_add(actor=carol, case=case, kind=DeadlineKind.ENFORCEMENT, due_on=TODAY + dt.timedelta(days=50),
                                remind_days=60, note="申请执行期限")
    later = services.deadline_add(actor=carol, case=case, kind=DeadlineKind.HEARING, due_on=TODAY + dt.timedelta(days=50),
                                  remind_days=7, note="开庭")
    client.force_login(carol)
    assert 'data-testid="deadlines"' not in client.get("/legal/").content.decode()
    assert services.deadlines_remind(today=TODAY) == 1
    box = client.get("/legal/").content.decode().split('data-testid="deadlines"')[1].split("</ul>")[0]
    assert far.note in box and later.note not in box


def test_api_and_page_refuse_amounts_and_texts_past_their_bounds_naming_the_field(client, carol, case):
    """Red team: ``amount_fen`` 10**19 on a case cost was a 500 (past a 64-bit column), a 300-character
    ``lawyer_licence`` on a note a PostgreSQL DataError (the serializer had no max_length), a long tracking
    number on a proof the same. Each is a 400 naming the field, nothing written."""
    from wuye.common.formatting import AMOUNT_TOO_LARGE
    from wuye.legal.models import CaseCost, CaseEvent, DeliveryProof

    client.force_login(carol)
    events = CaseEvent.objects.count()
    today = TODAY.isoformat()
    r = client.post(f"/api/v1/legal/cases/{case.pk}/costs/", {"kind": "lawyer_fee", "amount_fen": 10**19, "on": today},
                    content_type="application/json")
    assert r.status_code == 400 and r.json()["error"]["fields"]["amount_fen"] == [AMOUNT_TOO_LARGE]
    for body, field in [({"event": "note", "on": today, "note": "备注", "lawyer_licence": "1" * 300}, "lawyer_licence"),
                        ({"event": "judgment", "on": today, "amount_fen": 10**19}, "amount_fen"),
                        ({"event": "note", "on": today, "note": "备注", "docket_no": "号" * 61}, "docket_no")]:
        r = client.post(f"/api/v1/legal/cases/{case.pk}/events/", body, content_type="application/json")
        assert r.status_code == 400 and field in r.json()["error"]["fields"], (field, r.content[:300])
    action = registered_of(case.lines.first().bill.unit)
    r = client.post("/api/v1/legal/proofs/", {"action": action.pk, "kind": "other", "tracking_no": "A" * 300,
                                              "signed_by": "业主001", "relation": "本人", "signed_on": "2026-04-25",
                                              "file": upload(png_bytes())})
    assert r.status_code == 400 and "tracking_no" in r.json()["error"]["fields"]
    # the page: the same amount typed in yuan
    r = client.post(f"/legal/cases/{case.pk}/costs/", {"kind": "lawyer_fee", "amount": "100000000000000000",
                                                      "on": today}, follow=True)
    assert r.status_code == 200 and "金额超出范围" in r.content.decode()
    assert not CaseCost.objects.exists() and CaseEvent.objects.count() == events
    assert not DeliveryProof.objects.exists()


def test_the_proof_service_refuses_a_tracking_number_longer_than_its_column(carol, lettered):
    from django.core.exceptions import ValidationError

    from wuye.legal.models import DeliveryProof

    action = registered_of(lettered["units"][0])
    with pytest.raises(ValidationError) as exc:
        services.proof_upload(actor=carol, upload=upload(png_bytes()), kind="other", action=action,
                              tracking_no="A" * 41, signed_by="业主001", relation="本人", signed_on=D(2026, 4, 25))
    assert "邮件单号不能超过 40" in exc.value.message_dict["tracking_no"][0]
    assert not DeliveryProof.objects.exists()
