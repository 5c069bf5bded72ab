"""What the load test reads off the pages (links, one-tap buttons, one-time keys, order and payment numbers):
kept apart from locustfile.py so a test can check them against the pages as they are drawn today
(tests/casework/test_load_patterns.py) — a pattern that no longer matches would quietly leave the load test
without its writes."""

import re

UNIT_LINK = re.compile(r'href="/casework/units/(\d+)/"')
# a card's one-tap buttons: unit, its one-time key (decision 204), the first outcome, task and debtor
QUICK = re.compile(r'hx-post="/casework/units/(\d+)/quick/" hx-vals=\'\{"_once": "([\w-]+)", "outcome": "(\w+)", '
                   r'"task": "(\d*)", "party": "(\d*)"\}\'')
ONCE = re.compile(r'name="_once" value="([\w-]+)"')
TRADE_NO = re.compile(r"/orders/([^/]+)/$")
RECEIPT = re.compile(r'/receipts/(\d+)\.pdf')
PAYMENT_ID = re.compile(r"\?paid=(\d+)")
