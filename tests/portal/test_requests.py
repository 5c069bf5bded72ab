"""What owners ask for through their link: installments (to the manager's approvals), disputes, contact
preferences; each recorded and attributed to the link, bad input changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Bill, InstallmentPlan
from wuye.portal.models import ContactPreference, OwnerRequest
from wuye.portal.selectors import opted_out_unit_ids

pytestmark = pytest.mark.django_db


def test_an_installment_request_waits_for_the_manager(client, link, alice):
    first = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    response = client.post(f"/p/{link['token']}/installment/", {"count": "3", "first_due": first,
                                                                "reason": "近期资金紧张"}, follow=True)
    assert "分期申请已提交" in response.content.decode()
    plan = InstallmentPlan.objects.get()
    assert plan.status == "pending" and plan.requested_by is None and "业主在线申请" in plan.reason
    assert plan.items.count() == 3
    assert AuditEvent.objects.filter(verb="installment.request", actor_label=f"portal:link:{link['row'].pk}").exists()
    request = OwnerRequest.objects.get()
    assert request.kind == "installment" and request.installment_plan == plan
    client.force_login(alice)
    assert "业主在线申请" in client.get("/billing/approvals/", follow=True).content.decode()


def test_a_bad_installment_request_changes_nothing(client, link):
    response = client.post(f"/p/{link['token']}/installment/", {"count": "3", "first_due": "2020-01-01",
                                                                "reason": "x"}, follow=True)
    assert "未提交" in response.content.decode()
    assert not InstallmentPlan.objects.exists() and not OwnerRequest.objects.exists()
    response = client.post(f"/p/{link['token']}/installment/", {"count": "abc"}, follow=True)
    assert "未提交" in response.content.decode() and not InstallmentPlan.objects.exists()


def test_a_dispute_is_recorded_with_its_periods(client, link):
    bills = list(Bill.objects.filter(unit=link["unit"], period_start=dt.date(2026, 3, 1)).values_list("pk", flat=True))
    response = client.post(f"/p/{link['token']}/dispute/", {"period": [",".join(map(str, bills))],
                                                            "text": "三月份楼道漏水一直没修"}, follow=True)
    assert "异议已记录" in response.content.decode()
    request = OwnerRequest.objects.get()
    assert request.kind == "dispute" and request.bill_ids == bills and request.status == "forwarded"
    assert AuditEvent.objects.filter(verb="portal.dispute_raise").exists()


def test_a_dispute_goes_to_casework_holds_escalation_and_shows_on_the_managers_desk(client, link, alice):
    from wuye.casework.models import Dispute
    from wuye.dunning.engine import dunning_run
    from wuye.dunning.models import Episode, HeldAccount, Hold

    unit = link["unit"]
    today = timezone.localdate()
    dunning_run(as_of=today)  # the account is in arrears: an episode is open
    bills = list(Bill.objects.filter(unit=unit, period_start=dt.date(2026, 3, 1)).values_list("pk", flat=True))
    client.post(f"/p/{link['token']}/dispute/", {"period": [",".join(map(str, bills))], "reason": "service",
                                                 "text": "三月份电梯坏了半个月没人管"})
    dispute = Dispute.objects.get(unit=unit)
    assert dispute.source == "portal" and dispute.reason == "service" and dispute.bill_ids == bills
    assert "三月份电梯坏了半个月没人管" in dispute.description and "2026年3月" in dispute.description
    assert dispute.opened_by is None and dispute.hold.kind == "dispute" and dispute.hold.released_on is None
    assert dispute.hold_until == today + dt.timedelta(days=30)
    assert Episode.objects.get(unit=unit, closed_on__isnull=True).account_class == "refusing"
    request = OwnerRequest.objects.get()
    assert request.dispute == dispute and request.status == "forwarded"
    opened = AuditEvent.objects.get(verb="casework.dispute_open")
    assert opened.actor is None and opened.actor_label == f"portal:link:{link['row'].pk}"
    # the ladder is held like for a dispute a collector records
    dunning_run(as_of=today + dt.timedelta(days=1))
    assert HeldAccount.objects.filter(unit=unit, run_date=today + dt.timedelta(days=1), reason="dispute").exists()
    # asking again joins the open dispute: no second hold, the pause is not stretched
    client.post(f"/p/{link['token']}/dispute/", {"text": "补充：保洁也很差", "reason": "service"})
    assert Dispute.objects.count() == 1 and Hold.objects.filter(unit=unit, kind="dispute").count() == 1
    assert list(OwnerRequest.objects.values_list("dispute_id", flat=True)) == [dispute.pk, dispute.pk]
    # the manager sees it, marked as raised online, with the owner's words and the bills
    client.force_login(alice)
    desk = client.get("/casework/desk/escalations/").content.decode()
    assert f'data-testid="desk-dispute-{dispute.pk}"' in desk and "业主在线提出" in desk
    page = client.get(f"/casework/disputes/{dispute.pk}/").content.decode()
    assert "业主在线提出" in page and "补充：保洁也很差" in page and "2026年3月" in page


def test_a_dispute_with_an_unknown_reason_changes_nothing(client, link):
    from wuye.casework.models import Dispute

    response = client.post(f"/p/{link['token']}/dispute/", {"text": "账单金额不对劲", "reason": "aliens"}, follow=True)
    assert "未提交" in response.content.decode() and "异议原因" in response.content.decode()
    assert not OwnerRequest.objects.exists() and not Dispute.objects.exists()


def test_an_installment_request_from_the_portal_is_in_the_managers_approvals_queue(client, link, alice):
    first = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    client.post(f"/p/{link['token']}/installment/", {"count": "4", "first_due": first, "reason": "孩子上学开销大"})
    plan = InstallmentPlan.objects.get()
    client.force_login(alice)
    page = client.get("/casework/desk/approvals/").content.decode()
    assert "孩子上学开销大" in page and f"/casework/desk/approvals/plan/{plan.pk}/" in page
    client.post(f"/casework/desk/approvals/plan/{plan.pk}/", {"approve": "1", "note": "同意分四期"})
    plan.refresh_from_db()
    assert plan.status == "active"  # approved: the plan runs


def test_a_dispute_about_another_units_bill_is_refused(client, link, arrears_estate):
    other = Bill.objects.filter(unit=arrears_estate["units"][1]).first()
    response = client.post(f"/p/{link['token']}/dispute/", {"period": [str(other.pk)], "text": "不是我的账单吗"},
                           follow=True)
    assert "未提交" in response.content.decode() and not OwnerRequest.objects.exists()


def test_contact_preferences_and_opting_out_are_recorded(client, link):
    client.post(f"/p/{link['token']}/preferences/", {"channel": "wechat", "time": "evening", "opt_out": "1"})
    pref = ContactPreference.objects.get()
    assert (pref.preferred_channel, pref.preferred_time, pref.opt_out_non_essential) == ("wechat", "evening", True)
    assert opted_out_unit_ids() == {link["unit"].pk}
    event = AuditEvent.objects.get(verb="portal.contact_preference")
    assert event.before["opt_out_non_essential"] is False and event.after["opt_out_non_essential"] is True
    client.post(f"/p/{link['token']}/preferences/", {"channel": "fax"})
    pref.refresh_from_db()
    assert pref.preferred_channel == "wechat"  # a bad choice changes nothing


def test_requests_through_one_link_are_limited_per_day(client, link):
    for i in range(5):
        client.post(f"/p/{link['token']}/dispute/", {"text": f"第 {i} 次提出的问题说明"})
    response = client.post(f"/p/{link['token']}/dispute/", {"text": "第六次提出的问题说明"}, follow=True)
    assert "请明天再试" in response.content.decode() and OwnerRequest.objects.count() == 5
