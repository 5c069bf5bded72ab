"""收支公示 on the small ledger, first quarter 2026 — aggregates only:
应收 3 × 40000 = 120000; 实收 as of each month's end 20000 (Jan: U1 prepaid, U2) + 20000 (Feb) + 5000 (Mar) =
45000 → 37.5 %; money received in the quarter 10000 + 6000 + 10000 + 15000 = 41000 (U1's prepayment was in
December); expenses entered by finance. Four units are below the default minimum group of 20: refused."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from wuye.insights.models import Disclosure

pytestmark = pytest.mark.django_db


@pytest.fixture
def fiona(make_user):
    from wuye.accounts.choices import Role

    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def with_phones(small_ledger, alice):
    from wuye.estate.choices import ContactKind, ContactSource
    from wuye.estate.models import Party
    from wuye.estate.services import contact_add

    for i, party in enumerate(Party.objects.filter(name__startswith="业主U")):
        contact_add(actor=alice, party=party, kind=ContactKind.MOBILE, value=f"1390000{i:04d}",
                    source=ContactSource.HANDOVER, is_primary=True)
    return small_ledger


def _enter(client, project, voucher, amount, category):
    return client.post("/insights/disclosure/expenses/", {
        "project": project.pk, "year": 2026, "quarter": 1, "category": category, "amount": amount,
        "spent_on": "2026-02-10", "voucher_no": voucher, "note": "二月保洁"})


def test_a_small_project_is_not_published(with_phones, client, alice):
    client.force_login(alice)
    r = client.post("/insights/disclosure/publish/", {"project": with_phones["project"].pk, "year": 2026,
                                                      "quarter": 1}, follow=True)
    assert "少于 20 户" in r.content.decode() and not Disclosure.objects.exists()


def test_publish_poster_public_page_and_api_carry_aggregates_only(with_phones, client, alice, fiona, settings):
    settings.WUYE_DISCLOSURE_MIN_UNITS = 3
    project = with_phones["project"]
    client.force_login(fiona)
    assert _enter(client, project, "PZ-001", "1200.50", "cleaning").status_code == 302
    _enter(client, project, "PZ-002", "300", "security")
    _enter(client, project, "PZ-002", "999", "other")  # the same voucher twice: refused
    client.force_login(alice)
    client.post("/insights/disclosure/publish/", {"project": project.pk, "year": 2026, "quarter": 1})
    d = Disclosure.objects.get()
    f = d.figures
    assert (f["billed_fen"], f["collected_fen"], f["collection_rate"], f["received_fen"]) == (120000, 45000, 37.5,
                                                                                              41000)
    assert f["expense_total_fen"] == 150050 and f["balance_fen"] == 41000 - 150050
    assert {e["category"]: e["amount_fen"] for e in f["expenses"]} == {"cleaning": 120050, "security": 30000}

    client.logout()
    public = client.get("/gongshi/K1/2026-Q1/").content.decode()
    client.force_login(alice)
    poster = client.get(f"/insights/disclosure/{d.pk}/poster/").content.decode()
    api = client.get("/api/v1/insights/disclosures/").content.decode()
    staff = client.get(f"/insights/disclosure/?project={project.pk}&year=2026&quarter=1").content.decode()
    export = client.get(f"/insights/export/expenses.xlsx?project={project.pk}&year=2026&quarter=1")
    ledger = " ".join(str(c.value) for row in openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)))
                      .worksheets[0].iter_rows() for c in row)
    assert "37.5%" in public and "¥1,200.50" in public and "保洁" in public
    from wuye.estate.models import ContactPoint, Party, Unit

    secrets = ([u.code for u in Unit.objects.filter(project=project)]
               + list(Party.objects.filter(name__startswith="业主").values_list("name", flat=True))
               + list(ContactPoint.objects.values_list("value", flat=True)))
    assert len(secrets) == 12
    for text in (public, poster, api, staff, ledger):
        for secret in secrets:
            assert secret not in text, secret


def test_the_public_page_ends_when_the_disclosure_expires(with_phones, client, alice, settings):
    from wuye.insights.disclosure import disclosure_publish

    settings.WUYE_DISCLOSURE_MIN_UNITS = 3
    d = disclosure_publish(actor=alice, project=with_phones["project"], year=2026, quarter=1)
    assert client.get("/gongshi/K1/2026-Q1/").status_code == 200
    Disclosure.objects.filter(pk=d.pk).update(expires_on=dt.date(2026, 1, 1))
    assert client.get("/gongshi/K1/2026-Q1/").status_code == 404
    assert client.get("/gongshi/K1/2026-Q2/").status_code == 404


def test_an_expense_past_the_bound_or_with_fractions_of_a_fen_is_refused_naming_the_field(with_phones, client,
                                                                                          fiona):
    """Red team: ``amount=100000000000000000`` was a 500 (past a 64-bit column) and ``1.005`` was stored as
    ¥1.00 (rounded half to even, silently). Both are refused with a message naming 金额; nothing is stored. The
    service refuses the amount too, whatever door it comes through."""
    from django.core.exceptions import ValidationError

    from wuye.common.formatting import AMOUNT_TOO_LARGE
    from wuye.insights.disclosure import expense_record
    from wuye.insights.models import Expense

    project = with_phones["project"]
    client.force_login(fiona)
    for amount, words in [("100000000000000000", "金额超出范围"), ("1.005", "金额最多两位小数"),
                          ("abc", "请输入金额"), ("NaN", "请输入金额")]:
        r = _enter(client, project, f"PZ-{amount}", amount, "cleaning")
        assert r.status_code == 302
        page = client.get(r["Location"]).content.decode()
        assert "支出未录入：金额（元）：" in page and words in page, amount
    r = client.post("/insights/disclosure/expenses/", {"project": project.pk, "category": "cleaning", "amount": "5",
                                                       "spent_on": "9999-99-99", "voucher_no": "PZ-9"}, follow=True)
    assert "支出日期格式应为 YYYY-MM-DD" in r.content.decode()
    assert not Expense.objects.exists()
    with pytest.raises(ValidationError) as exc:
        expense_record(actor=fiona, project=project, category="cleaning", amount_fen=10**19,
                       spent_on=dt.date(2026, 2, 10), voucher_no="PZ-X")
    assert exc.value.message_dict["amount_fen"] == [AMOUNT_TOO_LARGE]
    assert not Expense.objects.exists()
    _enter(client, project, "PZ-OK", "1.01", "cleaning")
    assert Expense.objects.get().amount_fen == 101
