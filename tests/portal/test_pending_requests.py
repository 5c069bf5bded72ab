"""Issue 17 item 7: the owner's bill shows their own requests still being handled, so they don't ask twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuye.billing.installments import installment_decide

pytestmark = pytest.mark.django_db


def test_a_pending_installment_shows_and_replaces_the_form_until_rejected(client, link, alice):
    html = client.get(link["url"]).content.decode()
    assert 'data-testid="pending-requests"' not in html and "提交分期申请" in html
    first = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    client.post(f"{link['url']}installment/", {"count": "3", "first_due": first, "reason": "近期资金紧张"})
    html = client.get(link["url"]).content.decode()
    assert 'data-testid="pending-installment"' in html and "分期申请审批中" in html and "3 期" in html
    assert "提交分期申请" not in html and 'data-testid="installment-in-progress"' in html
    from wuye.billing.models import InstallmentPlan

    installment_decide(actor=alice, plan=InstallmentPlan.objects.get(), approve=False, note="请先缴一期")
    html = client.get(link["url"]).content.decode()
    assert 'data-testid="pending-requests"' not in html and "提交分期申请" in html


def test_an_open_dispute_shows_until_it_is_resolved(client, link, alice):
    from wuye.casework.models import Dispute
    from wuye.casework.services import dispute_resolve

    client.post(f"{link['url']}dispute/", {"text": "二月份电梯停了两周", "reason": "other"})
    html = client.get(link["url"]).content.decode()
    assert 'data-testid="pending-dispute"' in html and "异议核实中" in html and "二月份电梯停了两周" in html
    dispute = Dispute.objects.get()
    dispute_resolve(actor=alice, dispute=dispute, note="已解释")
    assert 'data-testid="pending-dispute"' not in client.get(link["url"]).content.decode()
