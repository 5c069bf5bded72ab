"""Issue 17 item 5: one approvals page — filters, paging, select-all, bulk approve/reject with one reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.billing import installments
from wuye.billing import services as billing
from wuye.billing.models import Adjustment, Bill, InstallmentPlan
from wuye.casework import services
from wuye.dunning.models import Task
from wuye.estate.models import Building, Project, Unit


def _referral(unit):
    return Task.objects.create(project=unit.project, unit=unit, kind="referral", title=f"{unit.code} 律师函转介",
                               assignee_role="legal", due_on=dt.date(2026, 7, 20))


@pytest.fixture
def queue(arrears_estate, bob_territory, alice):
    """Pending: 2 waivers (¥50, ¥120) asked by bob, 1 plan, 3 referrals in 测试花园 and 2 in a second project."""
    units = arrears_estate["units"]
    adjs = []
    for unit, fen in ((units[0], 5_000), (units[1], 12_000)):
        bill = Bill.objects.filter(unit=unit).order_by("period_start").first()
        adjs.append(billing.adjustment_request(actor=bob_territory, bill=bill, kind="waive_principal",
                                               reason="电梯停运", amount_fen=fen))
    first = timezone.localdate() + dt.timedelta(days=10)
    owed = sum(b.amount_fen - b.settled_fen for b in Bill.objects.filter(unit=units[2]))
    plan = installments.installment_request(actor=bob_territory, unit=units[2], reason="孩子住院",
                                            schedule=installments.equal_schedule(owed, 3, first))
    refs = [_referral(u) for u in units[3:6]]
    other = Project.objects.create(code="T2", name="乙项目", city="杭州", developer=arrears_estate["developer"])
    building = Building.objects.create(project=other, code="1", name="1幢", floors=2)
    others = [Unit.objects.create(project=other, building=building, floor=1, number=f"10{k}", code=f"Y-10{k}",
                                  property_type="low_rise", area="90") for k in (1, 2)]
    refs += [_referral(u) for u in others]
    return {"adjustments": adjs, "plan": plan, "referrals": refs, "other": other}


def test_one_page_lists_every_kind_once_with_the_project_and_groups_referrals(client, alice, queue):
    client.force_login(alice)
    html = client.get("/casework/desk/approvals/").content.decode()
    assert html.count(f'data-testid="plan-{queue["plan"].pk}"') == 1  # 分期 is not listed twice any more
    for a in queue["adjustments"]:
        assert f'data-testid="adjustment-{a.pk}"' in html
    assert html.count('data-testid="referral-group"') == 2
    assert "律师函转介 · 测试花园" in html and "律师函转介 · 乙项目" in html
    assert html.index("律师函转介 · 乙项目") < html.index("律师函转介 · 测试花园")  # by project name
    assert html.count('data-label="项目">测试花园') == 6 and html.count('data-label="项目">乙项目') == 2
    # the old billing page leads here
    assert client.get("/billing/approvals/").url == "/casework/desk/approvals/"


def test_filters_by_project_kind_amount_and_collector(client, alice, bob_territory, queue):
    client.force_login(alice)

    def keys(**params):
        html = client.get("/casework/desk/approvals/", params).content.decode()
        return html.count('name="items"'), html

    assert keys(project=queue["other"].pk)[0] == 2
    assert keys(kind="referral")[0] == 5
    assert keys(kind="plan")[0] == 1
    n, html = keys(kind="waive_principal", min_fen="100")
    assert n == 1 and f'adjustment-{queue["adjustments"][1].pk}' in html
    assert keys(collector=bob_territory.pk)[0] == 3  # the two waivers and the plan bob asked for
    n, html = keys(min_fen="200", max_fen="100")
    assert n == 0 and 'data-testid="error-max_fen"' in html and "上限不能低于下限" in html


def test_paging_fifty_a_page(client, alice, arrears_estate):
    for unit in arrears_estate["units"][:30]:
        _referral(unit)
        _referral(unit)
    client.force_login(alice)
    first = client.get("/casework/desk/approvals/").content.decode()
    second = client.get("/casework/desk/approvals/?page=2").content.decode()
    assert first.count('name="items"') == 50 and second.count('name="items"') == 10
    assert "1 / 2" in first and "共 60 件，本页 50 件" in first
    assert "选择全部符合条件的 60 项" in first


def test_bulk_approve_goes_through_each_service_and_is_audited(client, alice, queue):
    client.force_login(alice)
    items = [f"adjustment:{a.pk}" for a in queue["adjustments"]] + [f"plan:{queue['plan'].pk}"] + \
            [f"referral:{t.pk}" for t in queue["referrals"][:2]]
    r = client.post("/casework/desk/approvals/", {"items": items, "approve": "1", "note": "属实",
                                                  "kind": ""}, follow=True)
    assert "已批准：减免/作废/核销 2 项，分期 1 项，律师函转介 2 项。" in r.content.decode()
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"approved"}
    assert Bill.objects.get(pk=queue["adjustments"][0].bill_id).settled_fen == 5_000  # the ledger moved
    assert InstallmentPlan.objects.get().status == "active"
    assert Task.objects.filter(status="done").count() == 2
    assert Task.objects.get(pk=queue["referrals"][0].pk).close_note == "同意转介律所：属实"
    assert AuditEvent.objects.filter(verb="adjustment.approve").count() == 2
    assert AuditEvent.objects.filter(verb="dunning.task_done").count() == 2
    batch = AuditEvent.objects.get(verb="casework.approvals_bulk")
    assert batch.actor == alice and batch.after["adjustment"] == 2 and batch.after["referral"] == 2


def test_bulk_reject_needs_one_reason_and_a_refusal_changes_nothing(client, alice, queue):
    client.force_login(alice)
    items = [f"adjustment:{a.pk}" for a in queue["adjustments"]]
    r = client.post("/casework/desk/approvals/", {"items": items, "approve": "0", "note": ""}, follow=True)
    assert "驳回时请填写理由" in r.content.decode()
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"pending"}
    # one of them was decided meanwhile (another tab): nothing of the batch is decided
    billing.adjustment_decide(actor=alice, adjustment=queue["adjustments"][0], approve=True)
    r = client.post("/casework/desk/approvals/", {"items": items, "approve": "0", "note": "不符合"}, follow=True)
    assert "已被处理" in r.content.decode()
    assert Adjustment.objects.get(pk=queue["adjustments"][1].pk).status == "pending"
    assert not AuditEvent.objects.filter(verb="casework.approvals_bulk").exists()


def test_a_waiver_the_ledger_refuses_rolls_back_the_whole_batch(alice, queue):
    waiver = queue["adjustments"][1]
    Bill.objects.filter(pk=waiver.bill_id).update(settled_fen=waiver.bill.amount_fen)  # paid meanwhile
    with pytest.raises(Exception) as exc:
        services.approvals_decide_bulk(actor=alice, approve=True, note="",
                                       items=[("plan", queue["plan"].pk), ("adjustment", waiver.pk)])
    assert "减免金额已超过当前未缴金额" in str(exc.value) and "1-102" in str(exc.value)
    assert InstallmentPlan.objects.get().status == "pending"


def test_select_all_matching_decides_every_page_of_the_filter_only(client, alice, queue):
    client.force_login(alice)
    client.post("/casework/desk/approvals/", {"scope": "all", "kind": "referral", "project": queue["other"].pk,
                                              "approve": "0", "note": "证据不足"})
    assert Task.objects.filter(status="done", project=queue["other"]).count() == 2
    assert Task.objects.filter(status="open").count() == 3
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"pending"}


def test_a_collector_cannot_decide_in_bulk(client, bob_territory, queue):
    client.force_login(bob_territory)
    r = client.post("/casework/desk/approvals/", {"items": [f"plan:{queue['plan'].pk}"], "approve": "1"})
    assert r.status_code == 403 and "只有经理可以审批" in r.content.decode()
    assert InstallmentPlan.objects.get().status == "pending"
