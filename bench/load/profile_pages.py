"""Bench-only: each page of the load test once, in process, with its query count, its slowest queries and
its server time (the second of two requests) — to find what the load test found (N+1 queries, slow selectors) without the load.

    DATABASE_URL=postgres://…/wuye_load .venv/bin/python bench/load/profile_pages.py var/load/people.json [-v]

Uses the people of setup_load.py (the first collector, cashier and manager, the first owner link). Read-only
except the session rows of the logins. Prints one line per page: queries, ms, the URL; with -v the three
slowest queries of each page.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuye.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    people = json.load(open(sys.argv[1], encoding="utf-8"))
    verbose = "-v" in sys.argv
    # --only /insights/,/collection/ : just those pages (URL prefixes); --repeat N : the median of N timed requests
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)
    repeat = int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--repeat=")), "1"))

    def show(client: Client, url: str) -> str:
        if only and not any(url.startswith(o) for o in only):
            return ""
        client.get(url)  # warm: templates, imports, the database's caches
        timed = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as q:
                t, cpu = time.perf_counter(), time.process_time()
                r = client.get(url)
                ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - cpu) * 1000
            db = sum(float(s["time"]) for s in q.captured_queries) * 1000
            timed.append((ms, db, cpu))
        ms, db, cpu = sorted(timed)[len(timed) // 2]
        print(f"{len(q.captured_queries):4d} q {ms:7.0f} ms (sql {db:5.0f} ms, python cpu {cpu:5.0f} ms)  "
              f"{r.status_code}  {url}")
        if verbose:
            for s in sorted(q.captured_queries, key=lambda s: -float(s["time"]))[:3]:
                print(f"        {float(s['time']) * 1000:6.0f} ms  {s['sql'][:300]}")
        return r.content.decode("utf-8", "replace")

    def login(username: str) -> Client:
        c = Client()
        from wuye.accounts.models import User

        c.force_login(User.objects.get(username=username))
        return c

    c = login(people["collectors"][0]["username"])
    page = show(c, "/casework/")
    units = list(dict.fromkeys(re.findall(r'href="/casework/units/(\d+)/"', page)))
    show(c, "/casework/?page=2")
    for u in units[:2]:
        show(c, f"/casework/units/{u}/")
        show(c, f"/casework/units/{u}/contact/?outcome=promised")
    k = login(people["cashiers"][0]["username"])
    unit = people["cashiers"][0]["unit_ids"][0]
    show(k, f"/estate/units/?q={unit}")
    show(k, f"/billing/units/{unit}/")
    show(k, "/billing/takings/")
    m = login(people["managers"][0]["username"])
    for url in ("/insights/", "/insights/units/", "/collection/", "/casework/desk/team/",
                "/casework/desk/approvals/", "/billing/takings/"):
        show(m, url)
    if only and not any(o.startswith("/p/") for o in only):
        return
    o = Client()
    token = people["owners"][0]["token"]
    show(o, f"/p/{token}/")
    # the order page needs an order: place one through the sandbox (started here, in a thread)
    import tempfile
    from pathlib import Path

    from django.conf import settings

    from wuye.portal.sandbox import Sandbox, make_keys

    sandbox = Sandbox(make_keys(Path(tempfile.mkdtemp()))).start()
    for name, value in sandbox.settings().items():
        setattr(settings, name, True if name == "WUYE_PAY_SANDBOX" else value)
    o.get(f"/p/{token}/")
    t, cpu = time.perf_counter(), time.process_time()
    r = o.post(f"/p/{token}/pay/", {"pay": "wechat:native"})
    print(f"       {(time.perf_counter() - t) * 1000:7.0f} ms (python cpu {(time.process_time() - cpu) * 1000:5.0f} ms)"
          f"  {r.status_code}  POST /p/…/pay/ → {r.get('Location', '')}")
    if r.status_code == 302:
        show(o, r["Location"])
    sandbox.close()


if __name__ == "__main__":
    main()
