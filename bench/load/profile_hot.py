"""Bench-only: the three requests the full-scale load test found slowest (issue 18) — the collector's worklist,
the manager's team desk and the collector's promise (the contact form's POST with outcome 承诺缴费) — each
timed in process, median and best of ``--repeat`` runs (the best is the figure on a busy machine), with its
query count, SQL time and Python CPU time.

    DATABASE_URL=postgres://…/wuye_load .venv/bin/python bench/load/profile_hot.py var/load/people.json [-v]

Uses the people of setup_load.py (the first collector and manager). The promise is posted as locust posts it
(the whole amount owed, a date 3–20 days on, the form's one-time key) for a different card of the worklist
each run, inside a transaction that is rolled back: the database is the same before and after, so two commits
compare on the same data. With -v the queries of the last run of each request, in order (the first 160
characters).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from wuye.accounts.models import User

    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    people = json.load(open(args[0], encoding="utf-8"))
    verbose = "-v" in sys.argv
    repeat = int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--repeat=")), "7"))

    def login(username: str) -> Client:
        c = Client()
        c.force_login(User.objects.get(username=username))
        return c

    def measure(label: str, run) -> None:
        run(0)  # warm: templates, imports, the database's caches
        runs = []
        for i in range(repeat):
            with CaptureQueriesContext(connection) as q:
                t, cpu = time.perf_counter(), time.process_time()
                status = run(i + 1)
                ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - cpu) * 1000
            runs.append((ms, cpu, sum(float(s["time"]) for s in q.captured_queries) * 1000, len(q.captured_queries),
                         status))
        med = [statistics.median(r[k] for r in runs) for k in range(3)]
        best = [min(r[k] for r in runs) for k in range(3)]
        counts = sorted({r[3] for r in runs})
        print(f"{label:28s} queries {'/'.join(map(str, counts)):>5s}  median {med[0]:6.1f} ms (sql {med[2]:5.1f}, "
              f"python cpu {med[1]:5.1f})  best {best[0]:6.1f} ms (sql {best[2]:5.1f}, python cpu {best[1]:5.1f})  "
              f"status {sorted({r[4] for r in runs})}")
        if verbose:
            for s in q.captured_queries:
                print(f"        {float(s['time']) * 1000:6.1f} ms  {s['sql'][:160]}")

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from patterns import ONCE, QUICK  # what the load test reads off the pages

    c = login(people["collectors"][0]["username"])
    page = c.get("/casework/").content.decode()
    cards = list(dict.fromkeys((u, t, p) for u, _once, _o, t, p in QUICK.findall(page)))
    keys = {}  # the contact form's one-time key of each card, read as locust reads it (the GET is not timed)
    for unit, task, party in cards[:repeat + 1]:
        url = f"/casework/units/{unit}/contact/?outcome=promised&party={party}&task={task}"
        keys[url] = ONCE.search(c.get(url).content.decode()).group(1)
    measure("GET /casework/ (worklist)", lambda i: c.get("/casework/").status_code)
    measure("GET /casework/?page=2", lambda i: c.get("/casework/?page=2").status_code)

    def promise(i: int) -> int:
        unit, task, party = cards[i % (repeat + 1)]
        url = f"/casework/units/{unit}/contact/?outcome=promised&party={party}&task={task}"
        with transaction.atomic():
            r = c.post(url, {"channel": "call", "outcome": "promised", "task": task, "note": "压测：承诺缴费",
                             "_once": keys[url],
                             "promised_on": (dt.date.today() + dt.timedelta(days=3 + i % 18)).isoformat()})
            transaction.set_rollback(True)
        return r.status_code

    measure("POST contact (promise)", promise)
    m = login(people["managers"][0]["username"])
    measure("GET /casework/desk/team/", lambda i: m.get("/casework/desk/team/").status_code)


if __name__ == "__main__":
    main()
