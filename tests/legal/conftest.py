"""Fixtures of the legal tests: a ledger written row by row with dates in the past (bills, delivered demands,
payments, promises, plans), so each limitation case is exactly the history it describes."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

SH = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SH)


class Book:
    """Writes history straight into the tables the clock reads (the services insist on today's date)."""

    def __init__(self, estate, alice):
        from wuye.billing.models import BillingPolicy, FeeItem
        from wuye.dunning.models import Policy, Step

        self.estate, self.alice = estate, alice
        self.project = estate["project"]
        BillingPolicy.objects.get_or_create(project=self.project, defaults={
            "due_day": 15, "late_fee_per_mille": Decimal("0.5")})
        self.fee = FeeItem.objects.create(project=self.project, code="wy", name="物业服务费", kind="service",
                                          pricing="area")
        self.policy = Policy.objects.create(project=self.project, name="测试")
        self.steps = {}
        for channel in ("sms", "wechat", "email", "notice", "registered", "call", "visit", "referral"):
            self.steps[channel] = Step.objects.create(policy=self.policy, order=10, name=f"测试{channel}",
                                                      kind="overdue", days=1, channel=channel)

    def owner(self, unit):
        from wuye.estate.selectors import liable_party

        return liable_party(unit, dt.date(2026, 1, 1))

    def line(self, unit, due: dt.date, *, amount=10_000, party=None, period=None, created=None):
        from wuye.billing.models import Bill

        period = period or due.replace(day=1)
        bill = Bill.objects.create(project=self.project, unit=unit, party=party or self.owner(unit), fee_item=self.fee,
                                   period_start=period, period_end=period.replace(day=28), amount_fen=amount,
                                   due_date=due, rule="测试")
        if created is not None:
            Bill.objects.filter(pk=bill.pk).update(created_at=at(created))
            bill.refresh_from_db()
        return bill

    def demand(self, unit, periods, *, channel="sms", delivered=None, status=None, sent=None, party=None):
        from wuye.dunning.models import Action

        n = next(_seq)
        status = status or ("delivered" if delivered else "sent")
        sent = sent or delivered or dt.date(2023, 1, 1)
        extra = {"party": party} if party is not None else {}
        return Action.objects.create(
            project=self.project, unit=unit, step=self.steps[channel], cycle=f"T{n}", decided_on=sent,
            channel=channel, stage=10, not_before=at(sent), status=status, out_id=f"test-{n}",
            periods=[p.isoformat() for p in periods], content=f"催缴 {n}", sent_at=at(sent),
            delivered_at=at(delivered) if delivered else None, **extra)

    def pay(self, bill, on: dt.date, fen: int):
        from wuye.billing.models import Allocation, Bill, Payment

        payment = Payment.objects.create(project=self.project, unit=bill.unit, amount_fen=fen, method="cash",
                                         paid_at=at(on), receipt_no=f"R{next(_seq)}")
        Allocation.objects.create(payment=payment, bill=bill, amount_fen=fen, applied_on=on)
        Bill.objects.filter(pk=bill.pk).update(settled_fen=bill.settled_fen + fen)
        bill.refresh_from_db()
        return payment

    def reverse(self, payment, on: dt.date):
        from wuye.billing.models import Allocation, Bill, Payment

        rev = Payment.objects.create(project=self.project, unit=payment.unit, amount_fen=-payment.amount_fen,
                                     method=payment.method, paid_at=at(on), reverses=payment)
        for a in payment.allocations.all():
            Allocation.objects.create(payment=rev, bill=a.bill, amount_fen=-a.amount_fen, applied_on=on)
            Bill.objects.filter(pk=a.bill_id).update(settled_fen=a.bill.settled_fen - a.amount_fen)
        return rev

    def promise(self, unit, made_on: dt.date, *, party=None, withdrawn=False, outcome=""):
        from wuye.casework.models import Promise
        from wuye.dunning.models import Hold

        hold = Hold.objects.create(project=self.project, unit=unit, kind="promise", starts_on=made_on,
                                   until=made_on + dt.timedelta(days=10), amount_fen=100, reason="测试承诺",
                                   released_on=made_on + dt.timedelta(days=1) if (withdrawn or outcome) else None,
                                   outcome=outcome)
        return Promise.objects.create(project=self.project, unit=unit, party=party or self.owner(unit), hold=hold,
                                      promised_on=made_on + dt.timedelta(days=10), amount_fen=100, made_on=made_on)

    def plan(self, unit, decided: dt.date, total=10_000):
        from wuye.billing.models import InstallmentPlan

        return InstallmentPlan.objects.create(project=self.project, unit=unit, total_fen=total, reason="测试",
                                              status="active", decided_by=self.alice, decided_at=at(decided, 15))


@pytest.fixture
def book(estate, alice):
    return Book(estate, alice)


def png_bytes(color=(200, 30, 30), size=(60, 40)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(size=(80, 60)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (20, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def upload(data: bytes, name: str = "scan.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def send_letters(arrears_estate):
    """Registered letters decided and dispatched on 2026-04-20 (each becomes a task for the office to post)."""
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run

    dunning_run(as_of=dt.date(2026, 4, 20))
    dispatch(now=dt.datetime(2026, 4, 20, 10, 0, tzinfo=SH))
    return arrears_estate


@pytest.fixture
def lettered(arrears_estate, tmp_path, settings):
    """The test estate four months in arrears, its registered letters posted (``send_letters``)."""
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    return send_letters(arrears_estate)


def registered_of(unit):
    from wuye.dunning.models import Action

    return Action.objects.filter(unit=unit, channel="registered").select_related("task").first()


def referral_for(unit, *, due=dt.date(2026, 7, 20)):
    """A lawyer-letter referral task for the legal role, as the ladder's referral step leaves it."""
    from wuye.dunning.models import Task

    return Task.objects.create(project=unit.project, unit=unit, kind="referral", title=f"{unit.code} 律师函转介",
                               assignee_role="legal", due_on=due)
