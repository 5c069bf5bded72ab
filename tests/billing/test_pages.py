import datetime as dt
import re

import pytest

from wuye.accounts.choices import Role
from wuye.billing.models import Adjustment, Bill, BillRun, Payment
from wuye.billing.services import bill_generate


@pytest.fixture
def fiona(make_user):
    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def three_overdue(alice, billed_estate):
    for month in (3, 4, 5):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate["units"][0]


def test_finance_takes_a_desk_payment_for_chosen_lines(client, fiona, three_overdue):
    client.force_login(fiona)
    april = Bill.objects.get(unit=three_overdue, period_start=dt.date(2026, 4, 1))
    response = client.post(f"/billing/units/{three_overdue.pk}/", {
        "amount": "200.00", "method": "cash", "payer_name": "业主001", "bills": [april.pk]})
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert payment.amount_fen == 20_000 and payment.created_by == fiona
    april.refresh_from_db()
    assert april.settled_fen == 17_900
    march = Bill.objects.get(unit=three_overdue, period_start=dt.date(2026, 3, 1))
    assert march.settled_fen == 2_100  # the rest pays the oldest open line, not prepaid
    receipt = client.get(f"/billing/payments/{payment.pk}/receipt/").content.decode()
    assert "人民币贰佰元整" in receipt and payment.receipt_no in receipt and "转入预存" not in receipt


def test_a_typo_in_the_amount_is_named_and_nothing_is_posted(client, fiona, three_overdue):
    client.force_login(fiona)
    response = client.post(f"/billing/units/{three_overdue.pk}/", {"amount": "2OO", "method": "cash"},
                           follow=True)
    html = response.content.decode()  # the error stands next to the field (issue 17)
    assert 'data-testid="error-amount">请输入金额' in html and "未入账，请按提示修改" in html
    response = client.post(f"/billing/units/{three_overdue.pk}/", {"amount": "1.005", "method": "cash"},
                           follow=True)
    assert "最多两位小数" in response.content.decode()
    assert Payment.objects.count() == 0


def test_collectors_see_the_statement_but_cannot_take_money(client, bob_territory, three_overdue):
    client.force_login(bob_territory)
    page = client.get(f"/billing/units/{three_overdue.pk}/").content.decode()
    assert "¥537.00" in page and "desk-payment" not in page
    assert client.post(f"/billing/units/{three_overdue.pk}/", {"amount": "1", "method": "cash"}).status_code == 403


def test_a_collector_asks_for_a_waiver_and_the_manager_approves_it(client, bob_territory, alice, three_overdue):
    client.force_login(bob_territory)
    march = Bill.objects.get(unit=three_overdue, period_start=dt.date(2026, 3, 1))
    client.post(f"/billing/bills/{march.pk}/adjust/", {"kind": "waive_principal", "amount": "50",
                                                       "reason": "电梯停运两周"})
    adj = Adjustment.objects.get()
    assert adj.status == "pending" and adj.amount_fen == 5_000
    assert client.get("/billing/approvals/").status_code == 403
    client.force_login(alice)
    assert "电梯停运两周" in client.get("/billing/approvals/", follow=True).content.decode()
    client.post(f"/billing/approvals/{adj.pk}/", {"approve": "1", "note": "属实"})
    march.refresh_from_db()
    assert march.settled_fen == 5_000


def test_the_run_page_previews_then_posts(client, alice, billed_estate):
    client.force_login(alice)
    project = billed_estate["project"]
    preview = client.post("/billing/runs/", {"project": project.pk, "period": "2026-06"}).content.decode()
    assert "将出账 36 行" in preview and BillRun.objects.count() == 0
    client.post("/billing/runs/", {"project": project.pk, "period": "2026-06", "post": "1"})
    assert BillRun.objects.get().bills_created == 36
    again = client.post("/billing/runs/", {"project": project.pk, "period": "2026-06"}).content.decode()
    assert "将出账 0 行" in again and "已存在 36 行" in again
    assert client.post("/billing/runs/", {"project": project.pk, "period": "2026-6x"}).status_code == 200


def test_an_owner_with_two_units_gets_one_statement(client, alice, billed_estate):
    from wuye.estate.services import occupancy_start

    owner = billed_estate["units"][0].occupancies.get().party
    second = billed_estate["units"][1]
    occupancy_start(actor=alice, unit=second, party=owner, role="owner", start=dt.date(2026, 1, 1))
    bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, 5, 1))
    client.force_login(alice)
    body = client.get(f"/billing/owners/{owner.pk}/").content.decode()
    text = re.sub(r"<[^>]+>", "", body)  # the code is kept whole in a span of its own
    assert "测试花园 1-101" in text and "测试花园 1-102" in text
    assert "¥360.00" in body  # 179.00 + 181.00


def test_an_owner_outside_the_territory_is_404_for_a_collector(client, bob_territory, billed_estate):
    client.force_login(bob_territory)
    outside_owner = billed_estate["units"][14].occupancies.get().party
    assert client.get(f"/billing/owners/{outside_owner.pk}/").status_code == 404


def test_the_approvals_page_title_is_plain_text(client, alice, billed_estate):
    client.force_login(alice)
    response = client.get("/billing/approvals/", follow=True)
    assert response.redirect_chain == [("/casework/desk/approvals/", 302)]  # one approvals page, not two
    body = response.content.decode()
    title = body[body.index("<title>") + 7: body.index("</title>")]
    assert title.strip() == "审批 · 物业收缴"
    assert "没有待审批的事项" in body[body.index("<main"):]
