"""The same WeChat Pay notification delivered 5 times at once by each of two processes posts one payment.

Runs on PostgreSQL, where row locks are real. On SQLite the test database lives in one process's memory and
writes are serialised anyway; there the sequential replay in test_wechat covers the behaviour.
"""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from django.db import connection, connections

from tests.portal.conftest import order_for, post_wechat, wechat_notification
from wuye.billing.models import Payment
from wuye.portal.choices import OrderStatus
from wuye.portal.models import PaymentNotification

pytestmark = pytest.mark.django_db(transaction=True)

PER_PROCESS = 5


def _deliver(headers, body, barrier, results):
    """In a forked process: PER_PROCESS threads post the notification at the same moment."""
    from django.test import Client

    codes = []
    start = threading.Barrier(PER_PROCESS)

    def one():
        start.wait()
        try:
            codes.append(post_wechat(Client(), headers, body).status_code)
        finally:
            connections.close_all()

    barrier.wait()
    threads = [threading.Thread(target=one) for _ in range(PER_PROCESS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(codes)


def test_five_concurrent_deliveries_from_two_processes_post_one_payment(wechat, keys, link):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the SQLite test database is in one process's memory "
                    "(test_wechat replays sequentially on SQLite)")
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=c"})
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    connections.close_all()  # children open their own connections
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_deliver, args=(headers, body, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    codes = results.get(timeout=60) + results.get(timeout=60)
    for p in procs:
        p.join(timeout=30)
    assert codes == [200] * (2 * PER_PROCESS)
    assert Payment.objects.count() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.payment == Payment.objects.get()
    results_seen = sorted(PaymentNotification.objects.values_list("result", flat=True))
    assert results_seen == ["duplicate"] * (2 * PER_PROCESS - 1) + ["posted"]
