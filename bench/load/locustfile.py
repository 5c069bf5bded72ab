"""The load test of the pages (issue 18 item 4): who uses Wuye during a working day, at once.

Run through ``bench/load/run.sh`` (gunicorn, the pay sandbox, the people and this file); by hand:

    locust -f bench/load/locustfile.py --headless --host http://127.0.0.1:8077 -u 265 -r 5 -t 5m \\
        --csv var/load/run   # LOAD_PEOPLE=var/load/people.json (from setup_load.py), LOAD_SANDBOX=http://…

Four kinds of user, in the proportions of the issue (50 : 10 : 5 : 200 at full size; ``LOAD_SCALE`` keeps the
proportions with fewer, e.g. 0.4 → 20 : 4 : 2 : 80):
- **Collector** (收费员): opens the worklist, a case page, taps a one-tap outcome (未接通 …), now and then opens
  the contact form and records a promise to pay, looks at page 2 of the worklist.
- **Cashier** (财务, at a project's desk): finds a unit in the unit list (by its code, or one time in five by
  the last four digits of the owner's phone), opens its statement, takes a cash
  payment (the receipt number comes back on the statement page), opens the receipt; now and then the day's
  takings report.
- **Manager** (经理, company-wide): the insights home, the drill-down list, the collection overview, the team
  desk, the approvals and the takings report.
- **Owner** (业主): opens the bill from a pay link, chooses WeChat Pay or Alipay (QR code), confirms in the
  sandbox — which sends the signed notification to Wuye, as the provider would — and watches the order page
  turn to 支付成功; now and then downloads the receipt. An owner who has paid leaves; the next arrives with a
  new link.

Requests are named after the page (the URL's name), so the statistics are per page whatever the ids.
Every response other than the expected status is a failure. Think times are those of people, not of
robots: a collector between two taps 3–10 s, a cashier 5–15 s, a manager 5–15 s, an owner 5–20 s.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import threading

from locust import HttpUser, between, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # patterns.py beside this file

PEOPLE = json.loads(open(os.environ.get("LOAD_PEOPLE", "var/load/people.json"), encoding="utf-8").read())
SCALE = float(os.environ.get("LOAD_SCALE", "1"))
SANDBOX = os.environ.get("LOAD_SANDBOX", "")
PASSWORD = PEOPLE["password"]

from patterns import ONCE, PAYMENT_ID, QUICK, RECEIPT, TRADE_NO, UNIT_LINK  # noqa: E402

_lock = threading.Lock()
_counters: dict[str, itertools.count] = {}


def _next(kind: str) -> int:
    with _lock:
        return next(_counters.setdefault(kind, itertools.count()))


def _count(n: int) -> int:
    return max(1, round(n * SCALE))


class Staff(HttpUser):
    abstract = True
    kind = ""

    def on_start(self) -> None:
        people = PEOPLE[self.kind]
        self.me = people[_next(self.kind) % len(people)]
        self.client.get("/login/", name="login (form)")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post("/login/", name="login", catch_response=True, allow_redirects=False, data={
                "username": self.me["username"], "password": PASSWORD, "csrfmiddlewaretoken": token}) as r:
            if r.status_code != 302:
                r.failure(f"login refused ({r.status_code})")

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def get(self, url: str, name: str, **kw):
        with self.client.get(url, name=name, catch_response=True, allow_redirects=False, **kw) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")
            return r

    def post(self, url: str, name: str, data: dict, expect: int = 302, refusals: tuple[str, ...] = (), **kw):
        """``refusals``: messages of a form shown again (200) that are the right answer to what a person did —
        e.g. a promise for a unit the owner has just paid; anything else is a failure."""
        data = {"csrfmiddlewaretoken": self.csrf(), **data}
        with self.client.post(url, name=name, data=data, catch_response=True, allow_redirects=False,
                              headers={"Referer": self.host + url}, **kw) as r:
            if r.status_code == 200 and any(text in r.text for text in refusals):
                r.success()
            elif r.status_code != expect:
                r.failure(f"{r.status_code}: {r.text[:200]!r}")
            return r


class Collector(Staff):
    """收费员: the worklist, case pages, one-tap outcomes, now and then a promise."""

    kind = "collectors"
    fixed_count = _count(50)
    wait_time = between(3, 10)

    def on_start(self) -> None:
        super().on_start()
        self.cards: list[tuple[str, str, str, str]] = []
        self.units: list[str] = []
        self.worklist()

    def worklist(self, page: int = 1) -> None:
        r = self.get("/casework/" + (f"?page={page}" if page > 1 else ""), name="casework:worklist"
                     + (" (page 2+)" if page > 1 else ""))
        if r.status_code == 200:
            self.cards = QUICK.findall(r.text)
            self.units = list(dict.fromkeys(UNIT_LINK.findall(r.text)))

    @task(3)
    def open_worklist(self) -> None:
        self.worklist()

    @task(1)
    def worklist_page_2(self) -> None:
        self.worklist(page=2)

    @task(4)
    def open_case(self) -> None:
        if self.units:
            self.get(f"/casework/units/{random.choice(self.units)}/", name="casework:case")

    @task(4)
    def quick_outcome(self) -> None:
        if not self.cards:
            return
        # a tapped card is redrawn with its outcome: its key is not tapped again
        unit, once, outcome, task_id, party = self.cards.pop(random.randrange(len(self.cards)))
        self.post(f"/casework/units/{unit}/quick/", name="casework:quick", expect=200,
                  data={"outcome": random.choice(["no_answer", "busy", "switched_off", "away"]),
                        "task": task_id, "party": party, "_once": once}, headers={"HX-Request": "true"})

    @task(1)
    def promise(self) -> None:
        if not self.cards:
            return
        unit, _once, _outcome, task_id, party = random.choice(self.cards)
        url = f"/casework/units/{unit}/contact/?outcome=promised&party={party}&task={task_id}"
        r = self.get(url, name="casework:contact")
        key = ONCE.search(r.text) if r.status_code == 200 else None
        if key is None:
            return
        import datetime as dt

        # the whole amount owed (the form's default): a random sum could exceed what the debtor owes, which the
        # form rightly refuses; the owner may also have paid at the desk or online since the worklist was read
        self.post(url, name="casework:contact (promise)", data={
            "channel": "call", "outcome": "promised", "task": task_id,
            "promised_on": (dt.date.today() + dt.timedelta(days=random.randint(3, 20))).isoformat(),
            "note": "压测：承诺缴费", "_once": key.group(1)}, refusals=("该房屋没有未缴费用",))


class Cashier(Staff):
    """财务 at a project's desk: a unit, its statement, a cash payment, the receipt; the day's takings."""

    kind = "cashiers"
    fixed_count = _count(10)
    wait_time = between(5, 15)

    @task(6)
    def take_payment(self) -> None:
        if self.me.get("units"):
            unit, code, tail = random.choice(self.me["units"])
            # the owner at the desk gives the unit (most of the time) or the last digits of their phone
            if tail and random.random() < 0.2:
                self.get(f"/estate/units/?q={tail}", name="estate:unit-list (phone tail)")
            else:
                self.get(f"/estate/units/?q={code}", name="estate:unit-list (unit code)")
        else:
            unit = random.choice(self.me["unit_ids"])
        url = f"/billing/units/{unit}/"
        r = self.get(url, name="billing:unit-statement")
        key = ONCE.search(r.text) if r.status_code == 200 else None  # the desk form's key comes first
        if key is None:
            return
        amount = random.choice([50, 100, 150, 200, 300])
        r = self.post(url, name="billing:unit-statement (pay)", data={
            "amount": f"{amount}.00", "method": "cash", "tendered": f"{amount + random.choice([0, 0, 50, 100])}.00",
            "payer_name": "压测", "note": "压测收款", "_once": key.group(1)})
        m = PAYMENT_ID.search(r.headers.get("Location", "")) if r.status_code == 302 else None
        if m:
            self.get(f"{url}?paid={m.group(1)}", name="billing:unit-statement (paid)")
            self.get(f"/billing/payments/{m.group(1)}/receipt/", name="billing:receipt")

    @task(1)
    def takings(self) -> None:
        self.get("/billing/takings/", name="billing:takings")


class Manager(Staff):
    """经理, company-wide: reports and insights."""

    kind = "managers"
    fixed_count = _count(5)
    wait_time = between(5, 15)

    @task(3)
    def insights(self) -> None:
        self.get("/insights/", name="insights:home")

    @task(2)
    def drill_down(self) -> None:
        self.get("/insights/units/", name="insights:units")

    @task(1)
    def overview(self) -> None:
        self.get("/collection/", name="dunning:overview")

    @task(1)
    def team(self) -> None:
        self.get("/casework/desk/team/", name="casework:desk-team")

    @task(1)
    def approvals(self) -> None:
        self.get("/casework/desk/approvals/", name="casework:desk-approvals")

    @task(1)
    def takings(self) -> None:
        self.get("/billing/takings/", name="billing:takings")


class Owner(HttpUser):
    """业主: the bill from a pay link, pay by WeChat Pay or Alipay in the sandbox, the order page, the receipt."""

    fixed_count = _count(200)
    wait_time = between(5, 20)

    def on_start(self) -> None:
        self.arrive()

    def arrive(self) -> None:
        owners = PEOPLE["owners"]
        self.token = owners[_next("owners") % len(owners)]["token"]
        self.paid = False
        self.client.cookies.clear()

    def get(self, url: str, name: str, expect: int = 200, must: str = ""):
        with self.client.get(url, name=name, catch_response=True, allow_redirects=False) as r:
            if r.status_code != expect:
                r.failure(f"{r.status_code}")
            elif must and must not in r.text:
                r.failure(f"no {must!r} on the page")
            return r

    @task
    def visit(self) -> None:
        base = f"/p/{self.token}/"
        r = self.get(base, name="portal:bill")
        if r.status_code != 200:
            return
        if self.paid or "/pay/" not in r.text:
            self.arrive()  # paid already (or nothing to pay): the next owner
            return
        self.wait()
        provider = random.choice(["wechat", "alipay"])
        with self.client.post(base + "pay/", name="portal:pay", catch_response=True, allow_redirects=False,
                              data={"csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
                                    "pay": f"{provider}:native"}, headers={"Referer": self.host + base}) as p:
            m = TRADE_NO.search(p.headers.get("Location", ""))
            if p.status_code != 302 or not m:
                p.failure(f"{p.status_code} → {p.headers.get('Location', '')}")
                return
        no = m.group(1)
        self.get(f"{base}orders/{no}/", name="portal:order")
        self.wait()
        # the owner confirms on the provider's page: the sandbox sends the signed notification to Wuye's
        # notify endpoint (the time here includes Wuye settling the payment)
        with self.client.post(f"{SANDBOX}/sandbox/pay/{provider}/{no}", name="sandbox confirm → notify",
                              catch_response=True, data={"back": ""}) as s:
            if s.status_code != 200 or "支付成功" not in s.text:
                s.failure(f"{s.status_code}")
        r = self.get(f"{base}orders/{no}/status/", name="portal:order-status", must="支付成功")
        self.paid = True
        m = RECEIPT.search(r.text or "")
        if m and random.random() < 0.3:
            self.get(f"{base}receipts/{m.group(1)}.pdf", name="portal:receipt-pdf")
