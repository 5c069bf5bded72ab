"""Standing check: the same WeChat Pay notification delivered 5 times at once by each of two *processes*
posts exactly one payment and never answers 500 — on SQLite with the default file (``WUYE_DATA_DIR``), on
SQLite named by ``DATABASE_URL=sqlite:///…`` (which once lost the IMMEDIATE/WAL/busy_timeout settings and
answered 500 "database is locked"), and on PostgreSQL.

The two processes are fresh interpreters (``subprocess``) that load ``wuye.settings`` from their own
environment, exactly as two web servers would, and post to the real notification view. The SQLite variants run
when the suite runs on SQLite (the test database, with the order, is copied to a file the children open); the
PostgreSQL variant when it runs on PostgreSQL (the children open the test database)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, connections

from tests.processes import race
from wuye.billing.models import Payment
from wuye.portal.choices import OrderStatus
from wuye.portal.models import PaymentNotification, PaymentOrder

from .conftest import APIV3_KEY, APPID, MCHID, MERCHANT_SERIAL, order_for, wechat_notification

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROCESSES, PER_PROCESS = 2, 5

CHILD = r"""
import json, os, sys, threading, time
from pathlib import Path
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
import django
django.setup()
from django.db import connection, connections
from django.test import Client

work = Path(sys.argv[1]); me = sys.argv[2]
headers, body = json.loads((work / "notification.json").read_text())
meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
(work / f"ready-{me}").touch()
while not (work / "go").exists():
    time.sleep(0.01)
codes, start = [], threading.Barrier(int(sys.argv[3]))

def one():
    start.wait()
    try:
        codes.append(Client().post("/api/v1/pay/wechat/notify/", data=body, content_type="application/json",
                                   **meta).status_code)
    finally:
        connections.close_all()

threads = [threading.Thread(target=one) for _ in range(int(sys.argv[3]))]
for t in threads:
    t.start()
for t in threads:
    t.join()
options = connection.settings_dict.get("OPTIONS", {})
print(json.dumps({"codes": codes, "vendor": connection.vendor, "name": str(connection.settings_dict["NAME"]),
                  "transaction_mode": options.get("transaction_mode", ""),
                  "init_command": options.get("init_command", "")}))
"""


def _child_env(tmp_path: Path, keys, variant: str) -> tuple[dict[str, str], Path | None]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "WUYE_SQLITE_PATH", "REDIS_URL", "PYTEST_XDIST_WORKER")}
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env.update({
        "WUYE_DATA_DIR": str(data_dir), "WUYE_SECRET_KEY": "concurrency-test-key-" + "k" * 40,
        "WECHATPAY_MCHID": MCHID, "WECHATPAY_APPID": APPID, "WECHATPAY_APIV3_KEY": APIV3_KEY,
        "WECHATPAY_CERT_SERIAL_NO": MERCHANT_SERIAL,
        "WECHATPAY_PRIVATE_KEY_FILE": keys.path("apiclient_key.pem"),
        "WECHATPAY_PLATFORM_CERT_FILE": keys.path("wechatpay_platform.pem"),
    })
    if variant == "postgresql":
        s = connection.settings_dict
        env["DATABASE_URL"] = (f"postgres://{s['USER']}{':' + s['PASSWORD'] if s['PASSWORD'] else ''}"
                               f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")
        return env, None
    # the SQLite test database lives in this process's memory: copy it (with the order) to a file
    path = data_dir / "wuye.sqlite3" if variant == "sqlite-default" else tmp_path / "elsewhere" / "by-url.sqlite3"
    path.parent.mkdir(exist_ok=True)
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    if variant == "sqlite-url":
        env["DATABASE_URL"] = f"sqlite:///{path}"
    return env, path


@pytest.mark.parametrize("variant", ["sqlite-default", "sqlite-url", "postgresql"])
def test_ten_copies_from_two_processes_post_one_payment_and_no_500(variant, wechat, keys, link, tmp_path):
    if (connection.vendor == "postgresql") != (variant == "postgresql"):
        pytest.skip(f"{variant}: runs when the suite runs on {'PostgreSQL' if variant == 'postgresql' else 'SQLite'}")
    wechat.answers["/v3/pay/transactions/native"] = (200, {"code_url": "weixin://wxpay/bizpayurl?pr=c"})
    order = order_for(link)
    headers, body = wechat_notification(keys, out_trade_no=order.out_trade_no, amount_fen=order.amount_fen)
    (tmp_path / "notification.json").write_text(json.dumps([headers, body]))
    env, sqlite_path = _child_env(tmp_path, keys, variant)
    connections.close_all()
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(n), str(PER_PROCESS)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(PROCESSES)]
    reports = race(children, tmp_path, range(PROCESSES), timeout=120)
    codes = [code for r in reports for code in r["codes"]]
    assert codes == [200] * (PROCESSES * PER_PROCESS), reports
    if sqlite_path is not None:
        assert {r["vendor"] for r in reports} == {"sqlite"} and {r["name"] for r in reports} == {str(sqlite_path)}
        assert {r["transaction_mode"] for r in reports} == {"IMMEDIATE"}
        assert all("busy_timeout" in r["init_command"] for r in reports)
        db = sqlite3.connect(sqlite_path)
        try:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            payments = db.execute("SELECT count(*) FROM billing_payment").fetchone()[0]
            status, payment_id = db.execute("SELECT status, payment_id FROM portal_paymentorder WHERE id = ?",
                                            (order.pk,)).fetchone()
            results = sorted(r for (r,) in db.execute("SELECT result FROM portal_paymentnotification"))
        finally:
            db.close()
    else:
        assert {r["vendor"] for r in reports} == {"postgresql"}
        payments = Payment.objects.count()
        status, payment_id = PaymentOrder.objects.filter(pk=order.pk).values_list("status", "payment_id").get()
        results = sorted(PaymentNotification.objects.values_list("result", flat=True))
    assert payments == 1 and status == OrderStatus.PAID and payment_id is not None
    assert results == ["duplicate"] * (PROCESSES * PER_PROCESS - 1) + ["posted"]
