"""Who signed for a written demand decides whether it reached the debtor (诉讼时效规定 8; decision 131): a notice
handed over counts when signed by the debtor, an adult family member living with them, their agent or a company's
designated recipient — not by a guard, a neighbour or the property office; a letter counts once it arrived at the
debtor's address, whoever signed there. A refused signer writes nothing and the clock is not restarted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from tests.legal.conftest import png_bytes, upload
from wuye.dunning.choices import ADDRESS_RECEIVER
from wuye.dunning.models import Task
from wuye.dunning.services import task_close
from wuye.legal import services
from wuye.legal.clocks import limitation_clocks
from wuye.legal.models import DeliveryProof

D = dt.date
AS_OF = D(2026, 6, 1)


def _written(book, unit, channel):
    bill = book.line(unit, D(2023, 3, 15))
    action = book.demand(unit, [bill.period_start], channel=channel, sent=D(2023, 9, 1))
    task = Task.objects.create(project=unit.project, unit=unit, kind=channel, title=f"{unit.code} 送达",
                               assignee_role="collector", due_on=D(2023, 9, 5), action=action)
    return bill, action, task


def _expiry(bill):
    return {lc.bill_id: lc.expiry for lc in limitation_clocks(as_of=AS_OF, unit_ids=[bill.unit_id])}[bill.pk]


@pytest.mark.parametrize("relation", ["其他", "保安", "邻居", ADDRESS_RECEIVER, ""])
def test_a_notice_signed_by_someone_outside_the_household_is_refused(book, estate, alice, relation):
    unit = estate["units"][0]
    bill, action, task = _written(book, unit, "notice")
    with pytest.raises(ValidationError) as exc:
        task_close(actor=alice, task=task, note="", signed_by="张三", relation=relation, signed_on=D(2023, 9, 4))
    assert "relation" in exc.value.message_dict and "同住成年家属" in exc.value.message_dict["relation"][0]
    action.refresh_from_db()
    task.refresh_from_db()
    assert action.status == "sent" and action.delivered_at is None and task.status == "open"
    assert _expiry(bill) == D(2026, 3, 16)  # not restarted


@pytest.mark.parametrize("relation", ["本人", "同住成年家属", "受托人", "公司前台/指定人员"])
def test_a_notice_signed_in_the_household_restarts_the_clock(book, estate, alice, relation):
    unit = estate["units"][0]
    bill, action, task = _written(book, unit, "notice")
    task_close(actor=alice, task=task, note="", signed_by="李四", relation=relation, signed_on=D(2023, 9, 4))
    action.refresh_from_db()
    assert action.status == "delivered"
    assert _expiry(bill) == D(2026, 9, 4)


def test_a_letter_signed_for_at_the_debtors_address_counts(book, estate, alice):
    unit = estate["units"][0]
    bill, action, task = _written(book, unit, "registered")
    task_close(actor=alice, task=task, note="", signed_by="门卫王", relation=ADDRESS_RECEIVER, signed_on=D(2023, 9, 4))
    action.refresh_from_db()
    assert action.status == "delivered" and _expiry(bill) == D(2026, 9, 4)


def test_a_signed_receipt_upload_naming_a_guard_is_refused_and_writes_nothing(book, estate, carol):
    unit = estate["units"][0]
    bill, action, task = _written(book, unit, "notice")
    with pytest.raises(ValidationError) as exc:
        services.proof_upload(actor=carol, upload=upload(png_bytes()), kind="signed_receipt", action=action,
                              signed_by="门卫王", relation=ADDRESS_RECEIVER, signed_on=D(2023, 9, 4))
    assert "relation" in exc.value.message_dict
    assert not DeliveryProof.objects.exists()
    action.refresh_from_db()
    assert action.status == "sent" and _expiry(bill) == D(2026, 3, 16)
