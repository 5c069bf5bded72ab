"""Issue 18 item 5: ``--distributed`` over two real worker processes gives what one process gives.

One estate of four projects in arrears is built here and copied into two databases. On the first copy one
process runs ``wuye generate_bills --period 2026-08`` and ``wuye dunning_run --date 2026-08-20``; on the second
two ``wuye run_huey`` workers are started and the same two commands run with ``--distributed`` (the first attempt
of project T2's part fails in both, ``WUYE_FANOUT_FAIL_ONCE``, and is queued again). Then both copies must hold the
same bill lines, the same outbox, episodes, held-account records and worklist tasks.

The queue: on the PostgreSQL pass, Redis (``REDIS_URL``, else 127.0.0.1:6379; skipped with the reason when no
Redis answers, failed instead under ``WUYE_REQUIRE_REDIS=1``); on the SQLite pass, Huey's SQLite storage (the
small installation's queue: processes of one machine share the file)."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections

from tests.conftest import skip_or_fail
from tests.fanout_estate import project_in_arrears

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
PERIOD, DAY = "2026-08", "2026-08-20"

# Rows compared between the two databases, by what they mean (never by primary keys, which depend on the order in
# which the workers happened to insert); each query is portable between SQLite and PostgreSQL.
COMPARED = {
    "bill lines": """
        SELECT b.unit_id, b.party_id, b.fee_item_id, b.period_start, b.period_end, b.amount_fen, b.due_date, b.rule,
               b.settled_fen, b.is_void, r.project_id, r.period, r.actor_label = '' AS manual
        FROM billing_bill b LEFT JOIN billing_billrun r ON r.id = b.run_id""",
    "bill runs": "SELECT project_id, period, bills_created, amount_fen FROM billing_billrun",
    "allocations": """
        SELECT b.unit_id, b.period_start, b.fee_item_id, a.amount_fen, a.payment_id
        FROM billing_allocation a JOIN billing_bill b ON b.id = a.bill_id""",
    "actions": """
        SELECT a.project_id, a.unit_id, a.party_id, a.step_id, a.cycle, a.decided_on, a.channel, a.stage, a.not_before,
               a.status, a.out_id, a.overdue_fen, a.deadline, a.periods, a.last_error, a.assigned_to_id,
               e.unit_id AS e_unit, e.party_id AS e_party, e.opened_on
        FROM dunning_action a LEFT JOIN dunning_episode e ON e.id = a.episode_id""",
    "episodes": """
        SELECT project_id, unit_id, party_id, opened_on, first_due, closed_on, account_class, class_since,
               ladder_done_on FROM dunning_episode""",
    "held accounts": "SELECT project_id, unit_id, run_date, reason, detail FROM dunning_heldaccount",
    "tasks": """
        SELECT t.project_id, t.unit_id, t.kind, t.title, t.assignee_role, t.due_on, t.status, a.out_id
        FROM dunning_task t LEFT JOIN dunning_action a ON a.id = t.action_id""",
}


def _rows(query_of, sql: str) -> list[tuple]:
    return sorted((tuple("" if v is None else str(v) for v in row) for row in query_of(sql)), key=repr)


class Copies:
    """Two copies of the test database, opened by the children through ``env`` and read back by ``rows``."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.vendor = connection.vendor
        self.base = connection.settings_dict.copy()
        self.names: dict[str, str] = {}

    def make(self, *labels: str) -> None:
        if self.vendor == "postgresql":
            import psycopg

            connections.close_all()  # CREATE DATABASE … TEMPLATE needs the template to be idle
            with psycopg.connect(self._url("postgres"), autocommit=True) as admin:
                # a connection left by an earlier test's server thread in this process would block the copy
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s AND pid <> pg_backend_pid()", [self.base["NAME"]])
                for label in labels:
                    name = f"{self.base['NAME']}_{label}"[:63]
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.base["NAME"]}"')
                    self.names[label] = name
            return
        connection.ensure_connection()  # the test database lives in this process's memory: copy it to files
        for label in labels:
            path = self.tmp / f"{label}.sqlite3"
            target = sqlite3.connect(path)
            connection.connection.backup(target)
            target.close()
            self.names[label] = str(path)

    def _url(self, name: str) -> str:
        s = self.base
        return (f"postgres://{s['USER']}{':' + s['PASSWORD'] if s['PASSWORD'] else ''}"
                f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}")

    def env(self, label: str) -> dict[str, str]:
        if self.vendor == "postgresql":
            return {"DATABASE_URL": self._url(self.names[label])}
        return {"WUYE_SQLITE_PATH": self.names[label]}

    def rows(self, label: str, sql: str) -> list[tuple]:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(self._url(self.names[label])) as db:
                return _rows(lambda q: db.execute(q).fetchall(), sql)
        db = sqlite3.connect(self.names[label])
        try:
            return _rows(lambda q: db.execute(q).fetchall(), sql)
        finally:
            db.close()

    def drop(self) -> None:
        if self.vendor != "postgresql":
            return
        import psycopg

        with psycopg.connect(self._url("postgres"), autocommit=True) as admin:
            for name in self.names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _queue_env() -> tuple[dict[str, str], object | None]:
    """Redis on the PostgreSQL pass (a fresh queue name, flushed afterwards), Huey's SQLite file on the SQLite pass."""
    if connection.vendor != "postgresql":
        return {}, None
    from huey import RedisHuey

    url = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    name = f"wuye-fanout-test-{uuid.uuid4().hex[:8]}"
    queue = RedisHuey(name, url=url)
    try:
        queue.storage.conn.ping()
    except Exception as exc:  # redis.ConnectionError and friends
        skip_or_fail(f"Redis at {url} not reachable: {exc}; the distributed run needs a shared queue",
                     "WUYE_REQUIRE_REDIS")
    return {"REDIS_URL": url, "WUYE_HUEY_NAME": name}, queue


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "WUYE_SQLITE_PATH", "REDIS_URL", "WUYE_HUEY_NAME", "WUYE_HUEY_IMMEDIATE",
                        "PYTEST_XDIST_WORKER", "WUYE_FANOUT_FAIL_ONCE", "DATABASE_REPLICA_URL")}
    env.update({"WUYE_SECRET_KEY": secrets.token_urlsafe(50), "PYTHONPATH": str(ROOT / "src"),
                "WUYE_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def _wuye(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "wuye", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"wuye {' '.join(args)}: {done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _wait_until_consuming(tmp_path: Path, count: int, timeout: float = 120) -> None:
    """Both workers have started their consumer (Huey logs it) before anything is queued."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = [(tmp_path / f"worker-{n}.log").read_text(errors="replace").lower() for n in range(count)]
        if all("consumer started" in log for log in logs):
            return
        time.sleep(0.2)
    raise AssertionError(f"the workers did not start within {timeout:.0f} s: {logs}")


@pytest.fixture
def four_projects(alice, arrears_estate):
    from wuye.dunning.defaults import policies_install_defaults_many
    from wuye.estate.models import Project

    for code, paid_every in (("T2", 3), ("T3", 5), ("T4", 2)):
        project_in_arrears(alice, code, paid_every=paid_every)
    # the ladders exist before the runs (as in any estate that has run once), so step ids match between copies
    policies_install_defaults_many(list(Project.objects.order_by("pk")))


def test_two_workers_give_what_one_process_gives_with_a_part_retried(four_projects, tmp_path):
    queue_env, redis_queue = _queue_env()
    copies = Copies(tmp_path)
    copies.make("single", "spread")
    workers: list[subprocess.Popen] = []
    try:
        single_env = _child_env({**copies.env("single"), "WUYE_DATA_DIR": str(tmp_path / "single-data")})
        one_bills = _wuye(single_env, "generate_bills", "--period", PERIOD)
        one_run = _wuye(single_env, "dunning_run", "--date", DAY)

        spread_env = _child_env({**copies.env("spread"), **queue_env, "WUYE_DATA_DIR": str(tmp_path / "spread-data")})
        for n in range(2):
            log = open(tmp_path / f"worker-{n}.log", "w")  # noqa: SIM115 (closed with the process)
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "wuye", "run_huey", "--workers", "1", "--no-periodic", "--max-delay", "0.3"],
                cwd=ROOT, env={**spread_env, "WUYE_FANOUT_FAIL_ONCE": "T2", "WUYE_LOG_LEVEL": "INFO",
                     # each part lasts a second: while one worker holds a part the other takes the next one
                     # (four millisecond parts were all drained by whichever worker polled first, CI stop 20)
                     "WUYE_FANOUT_PART_SECONDS": "1"},
                stdout=log, stderr=subprocess.STDOUT))
        _wait_until_consuming(tmp_path, len(workers))  # a worker still starting would leave every part to the other
        spread_bills = _wuye(spread_env, "generate_bills", "--period", PERIOD, "--distributed", "--timeout", "300")
        spread_run = _wuye(spread_env, "dunning_run", "--date", DAY, "--distributed", "--timeout", "300")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        if redis_queue is not None:
            redis_queue.flush()

    try:
        # the one JSON line: the same totals, and T2's part tried twice in each run
        assert spread_bills["bills_created"] == one_bills["bills_created"] > 0
        assert spread_bills["amount_fen"] == one_bills["amount_fen"]
        for key in ("accounts_in_arrears", "actions_created", "held"):
            assert spread_run[key] == one_run[key], key
        assert one_run["actions_created"] > 0
        for line in (spread_bills, spread_run):
            assert line["distributed"]["status"] == "succeeded" and line["distributed"]["parts"] == 4
            assert line["distributed"]["retried"] == 1, line
        parts = copies.rows("spread", "SELECT r.kind, p.status, p.attempts, p.worker, e.code FROM common_fanoutpart p "
                                      "JOIN common_fanoutrun r ON r.id = p.run_id JOIN estate_project e ON e.id = p.project_id")
        assert {(kind, code, attempts) for kind, _s, attempts, _w, code in parts if attempts != "1"} == {
            ("bills", "T2", "2"), ("dunning", "T2", "2")}
        assert {status for _k, status, *_ in parts} == {"done"}
        pids = {worker.rsplit(":", 1)[1] for *_x, worker, _c in parts}
        assert pids <= {str(w.pid) for w in workers}
        assert len(pids) == 2, f"one worker did every part: {parts}"  # both machines' share

        # what the database holds: the same, row for row
        for what, sql in COMPARED.items():
            one, spread = copies.rows("single", sql), copies.rows("spread", sql)
            assert spread == one, f"{what}: {len(one)} rows in one process, {len(spread)} distributed; first " \
                                  f"differences {sorted(set(one) ^ set(spread), key=repr)[:3]}"
        assert copies.rows("single", COMPARED["actions"]) and copies.rows("single", COMPARED["episodes"])
    finally:
        copies.drop()
        connections.close_all()
