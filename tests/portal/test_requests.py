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
    assert "业主在线申请" in client.get("/billing/approvals/").content.decode()


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
    assert request.kind == "dispute" and request.bill_ids == bills and request.status == "open"
    assert AuditEvent.objects.filter(verb="portal.dispute_raise").exists()


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
