"""Issue 18 item 5: report pages read from a replica (``DATABASE_REPLICA_URL``), everything else the primary.

The ``replica`` alias here is the test database itself, set up as Django's ``TEST: {"MIRROR": "default"}``
does (``set_as_test_mirror``); on PostgreSQL its sessions are read-only, as settings make them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from wuye.accounts.models import User
from wuye.billing.models import Bill
from wuye.common.replica import PRIMARY, REPLICA, ReplicaRouter, replica_reads
from wuye.estate.models import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def replica_alias(django_db_setup):
    """Add the ``replica`` alias as settings do for DATABASE_REPLICA_URL, mirrored onto the test database (what
    Django's test setup does for ``MIRROR``). Module-scoped: it must exist before a test's database setup checks
    the aliases the test names (``databases=[…, "replica"]``)."""
    primary = settings.DATABASES[PRIMARY]
    config = {**primary, "TEST": {**primary.get("TEST", {}), "MIRROR": PRIMARY}}
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = config.get("OPTIONS", {})
        config["OPTIONS"] = {**options,
                             "options": (options.get("options", "") + " -c default_transaction_read_only=on").strip()}
    settings.DATABASES[REPLICA] = config  # (the connection handler reads this same dict)
    connections.settings[REPLICA] = config
    connections[REPLICA].creation.set_as_test_mirror(connections[PRIMARY].settings_dict)
    yield
    connections[REPLICA].close()
    del connections[REPLICA]
    connections.settings.pop(REPLICA, None)
    settings.DATABASES.pop(REPLICA, None)


@pytest.fixture
def replica(replica_alias):
    return connections[REPLICA]


with_replica = pytest.mark.django_db(transaction=True, databases=[PRIMARY, REPLICA])


@with_replica
def test_the_router_sends_only_report_reads_to_the_replica(replica):
    router = ReplicaRouter()
    assert router.db_for_read(Bill) == PRIMARY  # outside a report: the primary
    with replica_reads():
        assert router.db_for_read(Bill) == REPLICA
        assert router.db_for_read(Project) == REPLICA
        assert router.db_for_read(User) == PRIMARY  # identity and sessions: never behind
        from django.contrib.sessions.models import Session

        assert router.db_for_read(Session) == PRIMARY
        assert router.db_for_write(Bill) == PRIMARY
    assert router.db_for_read(Bill) == PRIMARY
    assert router.allow_migrate(REPLICA, "billing") is False and router.allow_migrate(PRIMARY, "billing")


def test_without_a_replica_everything_stays_on_the_primary(monkeypatch):
    monkeypatch.delitem(settings.DATABASES, REPLICA, raising=False)
    with replica_reads():
        assert ReplicaRouter().db_for_read(Bill) == PRIMARY


@with_replica
def test_an_object_read_from_the_replica_is_saved_on_the_primary(replica, estate):
    with replica_reads():
        project = Project.objects.get(code="T1")
    assert project._state.db == REPLICA
    project.name = "改名花园"
    with CaptureQueriesContext(replica) as on_replica:
        project.save()
    assert not on_replica.captured_queries
    assert Project.objects.get(code="T1").name == "改名花园"


@with_replica
def test_a_write_that_reaches_the_replica_fails_loudly(replica, estate):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL pass only: the replica's sessions are read-only there")
    from django.db import InternalError, OperationalError, ProgrammingError

    with pytest.raises((InternalError, OperationalError, ProgrammingError), match="read-only"):
        Project.objects.using(REPLICA).filter(code="T1").update(name="x")


def _sql(ctx) -> str:
    return "\n".join(q["sql"] for q in ctx.captured_queries)


@with_replica
def test_the_insights_pages_read_the_replica_and_the_rest_the_primary(replica, client, alice, arrears_estate):
    from wuye.insights.services import month_close

    month_close(period=dt.date(2026, 6, 1), today=dt.date(2026, 7, 5))  # pages read closed months' snapshots
    client.force_login(alice)
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connection) as on_primary:
        page = client.get("/insights/?period=2026-06")
    assert page.status_code == 200 and "经营分析" in page.content.decode()
    assert "insights_month" in _sql(on_replica)  # the figures came from the replica
    assert "insights_month" not in _sql(on_primary)
    assert "django_session" in _sql(on_primary) and "django_session" not in _sql(on_replica)
    assert 'FROM "accounts_user" ' not in _sql(on_replica)  # who is logged in: the primary

    with CaptureQueriesContext(replica) as on_replica:
        api = client.get("/api/v1/insights/figures/?period=2026-06&by=building")
        units = client.get("/insights/units/?period=2026-06")
    assert api.status_code == 200 and units.status_code == 200 and on_replica.captured_queries

    with CaptureQueriesContext(replica) as on_replica:
        assert client.get("/collection/").status_code == 200  # not a report: the primary
        assert client.get(f"/billing/units/{arrears_estate['units'][0].pk}/").status_code == 200
        client.post("/insights/targets/", {"project": arrears_estate["project"].pk, "period": "2026-06",
                                           "rate": "90"})  # a form post on a report page: the primary
    assert not on_replica.captured_queries


def test_the_setting_adds_a_mirrored_read_only_replica_and_the_router(tmp_path):
    code = ("import json, django; django.setup(); from django.conf import settings; "
            "print(json.dumps([settings.DATABASES.get('replica'), settings.DATABASE_ROUTERS]))")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_XDIST_WORKER")}
    env.update({"DJANGO_SETTINGS_MODULE": "wuye.settings", "WUYE_DATA_DIR": str(tmp_path),
                "DATABASE_URL": "postgres://wuye@db1.example/wuye",
                "DATABASE_REPLICA_URL": "postgres://wuye_ro@db2.example/wuye", "PYTHONPATH": str(ROOT / "src")})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    replica_cfg, routers = json.loads(out.stdout.strip().splitlines()[-1])
    assert replica_cfg["HOST"] == "db2.example" and replica_cfg["USER"] == "wuye_ro"
    assert replica_cfg["TEST"]["MIRROR"] == "default"
    assert "-c default_transaction_read_only=on" in replica_cfg["OPTIONS"]["options"]
    assert routers == ["wuye.common.replica.ReplicaRouter"]
    env.pop("DATABASE_REPLICA_URL")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])[0] is None
