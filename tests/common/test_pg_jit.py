"""PostgreSQL's JIT is off for Wuye's connections (decision 72): it compiled a page's grouped read for 270 ms
before running it in 15 ms. ``WUYE_PG_JIT=1`` leaves the server's setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

CHILD = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "wuye.settings"
from django.conf import settings
print(json.dumps(settings.DATABASES["default"].get("OPTIONS", {})))
"""


def _options(**env) -> dict:
    child_env = {k: v for k, v in os.environ.items() if k not in ("WUYE_PG_JIT", "PYTEST_XDIST_WORKER")}
    child_env.update(env)
    out = subprocess.run([sys.executable, "-c", CHILD], env=child_env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_switches_jit_off_for_postgresql_connections():
    assert _options(DATABASE_URL="postgres://u@127.0.0.1:5432/x")["options"] == "-c jit=off"


def test_it_keeps_options_named_in_the_url():
    opts = _options(DATABASE_URL="postgres://u@127.0.0.1:5432/x?options=-c%20statement_timeout%3D5000")
    assert opts["options"] == "-c statement_timeout=5000 -c jit=off"


def test_it_leaves_the_server_setting_when_asked():
    assert "options" not in _options(DATABASE_URL="postgres://u@127.0.0.1:5432/x", WUYE_PG_JIT="1")


@pytest.mark.django_db
def test_the_test_database_connection_has_jit_off():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (the PostgreSQL pass of make test runs it)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
