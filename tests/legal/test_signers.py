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


def _closed_before_the_rule(action, relation):
    """As the task list closed a notice before decision 131: the action delivered, the signer in its event."""
    from tests.legal.conftest import at
    from wuye.dunning.dispatch import receipt_record

    receipt_record(out_id=action.out_id, delivered=True, at=at(D(2023, 9, 4), 12), detail=f"签收人 张三（{relation}）",
                   actor_label="user:alice")
    action.refresh_from_db()
    assert action.status == "delivered"


@pytest.mark.parametrize(("channel", "relation"), [("notice", "其他"), ("notice", "门卫"), ("notice", ADDRESS_RECEIVER),
                                                   ("registered", "其他"), ("registered", "邻居")])
def test_a_delivery_recorded_earlier_with_a_signer_who_does_not_count_no_longer_restarts_the_clock(
        book, estate, channel, relation):
    """Decision 160: the clock itself leaves such a delivery out — on every path it reads (a unit's lines, the
    whole estate, the case page's detail) — while the action keeps its history."""
    unit = estate["units"][0]
    bill, action, _task = _written(book, unit, channel)
    _closed_before_the_rule(action, relation)
    assert _expiry(bill) == D(2026, 3, 16)
    everywhere = {lc.bill_id: lc.expiry for lc in limitation_clocks(as_of=AS_OF)}
    assert everywhere[bill.pk] == D(2026, 3, 16)
    detail = limitation_clocks(as_of=AS_OF, bill_ids=[bill.pk], detail=True)[0]
    assert detail.expiry == D(2026, 3, 16) and not detail.clock.applied + detail.clock.ignored
    action.refresh_from_db()
    assert action.status == "delivered" and action.events.count() == 1  # nothing rewritten


@pytest.mark.parametrize(("channel", "relation"), [("notice", "本人"), ("notice", "同住成年家属"),
                                                   ("registered", ADDRESS_RECEIVER)])
def test_a_delivery_recorded_earlier_with_a_signer_who_counts_still_restarts_it(book, estate, channel, relation):
    unit = estate["units"][0]
    bill, action, _task = _written(book, unit, channel)
    _closed_before_the_rule(action, relation)
    assert _expiry(bill) == D(2026, 9, 4)
    assert {lc.bill_id: lc.expiry for lc in limitation_clocks(as_of=AS_OF)}[bill.pk] == D(2026, 9, 4)


def test_a_postal_receipt_without_a_signer_counts_as_before(book, estate):
    from tests.legal.conftest import at
    from wuye.dunning.dispatch import receipt_record

    unit = estate["units"][0]
    bill, action, _task = _written(book, unit, "registered")
    receipt_record(out_id=action.out_id, delivered=True, at=at(D(2023, 9, 4), 12), detail="EMS 妥投")
    assert _expiry(bill) == D(2026, 9, 4)


def test_managers_see_the_deliveries_that_no_longer_count_and_nothing_changes(client, book, estate, alice):
    from wuye.legal.signers import unaccepted_deliveries

    unit = estate["units"][0]
    _bill, bad, _task = _written(book, unit, "notice")
    _closed_before_the_rule(bad, "其他")
    _bill2, good, _task2 = _written(book, estate["units"][1], "notice")
    _closed_before_the_rule(good, "本人")
    assert set(unaccepted_deliveries()) == {bad.pk}
    client.force_login(alice)
    page = client.get("/legal/proofs/?pending=signer").content.decode()
    assert page.count('data-testid="unaccepted-signer"') == 1 and "签收人 张三（其他）不能代债务人签收" in page
    assert unit.code in page and estate["units"][1].code not in page
    bad.refresh_from_db()
    assert bad.status == "delivered"


def test_the_payment_order_demand_check_leaves_such_a_delivery_out(book, estate, carol):
    from tests.legal.conftest import at
    from wuye.dunning.dispatch import receipt_record
    from wuye.legal.eligibility import payment_order_conditions

    unit = estate["units"][0]
    bill = book.line(unit, D(2025, 3, 15))  # not time-barred: the filing would claim it
    notice = book.demand(unit, [bill.period_start], channel="notice", sent=D(2025, 9, 1))
    receipt_record(out_id=notice.out_id, delivered=True, at=at(D(2025, 9, 4), 12), detail="签收人 张三（其他）")
    case = services.case_open(actor=carol, project=unit.project, party=bill.party, on=AS_OF)
    demand = next(c for c in payment_order_conditions(case, as_of=AS_OF) if c.code == "demand")
    assert not demand.ok and "2025-03" in demand.detail


@pytest.mark.parametrize(("detail", "signed"), [
    ("签收人 张三（本人）", ("张三", "本人")),
    ("EMS/挂号信签收 EA123456789CN；签收人 王五（收件地址代收（门卫、驿站等））", ("王五", ADDRESS_RECEIVER)),
    ("签收人 张三（业主之子）（其他）", ("张三（业主之子）", "其他")),
    ("签收人 张三（业主之子）（同住成年家属）；", None),  # not at the end: not a signer record
    ("签收人 张三（业主之子）（同住成年家属）", ("张三（业主之子）", "同住成年家属")),
    ("签收人 李四（）", ("李四", "")),
    ("EMS 妥投", None),
])
def test_the_signer_is_read_from_the_delivering_event(detail, signed):
    from wuye.legal.signers import recorded_signer

    assert recorded_signer(detail) == signed
