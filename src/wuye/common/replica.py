"""Reports read from a PostgreSQL replica; everything else reads and writes the primary.

With ``DATABASE_REPLICA_URL`` set, settings add a ``replica`` database (read-only sessions) and this router.
Reads go to the replica only inside ``replica_reads()`` — which the middleware below opens for the GET
requests of the report pages named in ``WUYE_REPLICA_VIEWS`` (the 经营分析 pages and their API by default) —
and never for the tables of identity and sessions (a login just made on the primary must not look missing on
a replica a second behind). Writes always go to the primary, even for an object read from the replica.
Everywhere else (desk payments, the worklist, the daily run, the dispatcher) reads stay on the primary: what a
cashier or collector has just written is what they see next.

Tests point ``replica`` at the test database itself (``TEST: {"MIRROR": "default"}``), as Django documents."""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings

REPLICA = "replica"
PRIMARY = "default"
# identity, sessions and the job machinery: always the primary
PRIMARY_ONLY_APPS = frozenset({"auth", "accounts", "sessions", "axes", "contenttypes", "admin", "authtoken",
                               "djhuey", "common"})

_reads = ContextVar("wuye_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Within the block, report reads may go to the replica (when one is configured)."""
    token = _reads.set(True)
    try:
        yield
    finally:
        _reads.reset(token)


class ReplicaRouter:
    """Reads of report tables to ``replica`` inside ``replica_reads()``; all writes and other reads to the primary."""

    def db_for_read(self, model, **hints):
        if _reads.get() and model._meta.app_label not in PRIMARY_ONLY_APPS and replica_configured():
            return REPLICA
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA, None}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA  # the replica gets its schema from the primary


def replica_view(view_name: str | None, patterns: list[str]) -> bool:
    return bool(view_name) and any(fnmatch.fnmatchcase(view_name, p) for p in patterns)


class ReplicaReadsMiddleware:
    """Opens ``replica_reads()`` around the view (and the rendering of its response) of a GET or HEAD request
    to a report page (``WUYE_REPLICA_VIEWS``: ``fnmatch`` patterns of URL names)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_replica_reads_token", None)
            if token is not None:
                _reads.reset(token)
                del request._replica_reads_token

    def process_view(self, request, view_func, view_args, view_kwargs):
        if (request.method in ("GET", "HEAD") and replica_configured()
                and replica_view(request.resolver_match.view_name, settings.WUYE_REPLICA_VIEWS)):
            request._replica_reads_token = _reads.set(True)
        return None


def reads_connection():
    """The connection a report's raw SQL reads from: the replica inside ``replica_reads()`` when one is
    configured, else the primary (raw cursors bypass the router)."""
    from django.db import connections

    if _reads.get() and replica_configured():
        return connections[REPLICA]
    return connections[PRIMARY]
