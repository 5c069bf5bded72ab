"""Issue 14 standing check: schemathesis fuzzes every operation of /api/schema/ as an administrator and as a
collector — valid and invalid inputs — and no answer is a 5xx. Bounded: a few examples per operation
(``EXAMPLES``, derandomized like every property test here), about two minutes on SQLite or PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

EXAMPLES = 6
BUDGET_SECONDS = 900  # a safety net on a loaded CI machine; ~2 minutes here


@pytest.fixture
def api_schema(admin_user):
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    return schemathesis.openapi.from_dict(generator.get_schema(request=None, public=True))


@pytest.fixture
def tokens(admin_user, bob_territory, arrears_estate):
    from rest_framework.authtoken.models import Token

    from wuye.billing.services import payment_record

    payment_record(actor=admin_user, unit=arrears_estate["units"][0], amount_fen=12_345, method="cash")
    return {who: Token.objects.create(user=user).key for who, user in (("admin", admin_user), ("collector",
                                                                                            bob_territory))}


def _runner(strategy, app, who: str, key: str, failures: list[str], statuses: Counter):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        run.calls += 1
        with transaction.atomic():  # a savepoint: one failing request cannot poison the next on PostgreSQL
            response = case.call(app=app, headers={"Authorization": f"Token {key}"})
        statuses[(who, response.status_code // 100)] += 1
        if response.status_code >= 500:
            failures.append(f"{who} {case.method} {case.formatted_path} {case.query} {str(case.body)[:200]} -> "
                            f"{response.status_code}")

    run.calls = 0
    return run


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, minus the per-request connection closing (as Django's test client does):
    closing would end the test's transaction."""
    from django.core import signals
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_api_operation_answers_5xx(api_schema, tokens, wsgi_app):
    app = wsgi_app
    started, failures, calls, statuses = time.monotonic(), [], 0, Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                             operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        for who, key in tokens.items():
            run = _runner(strategy, app, who, key, failures, statuses)
            run()
            calls += run.calls
        assert time.monotonic() - started < BUDGET_SECONDS, f"over the budget after {operation.label}"
    assert failures == [], "\n".join(dict.fromkeys(failures))
    assert calls > 200
    # the tokens work: both users get answers, not only refusals
    assert statuses[("admin", 2)] > 20 and statuses[("collector", 2)] > 10, statuses
