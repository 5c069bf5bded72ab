"""Shared fixtures: named personas (one per role) and a small estate built through the real services."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from hypothesis import settings as hypothesis_settings

from wuye.accounts.choices import Role

# Property tests: the same examples on every run by default, so CI never fails by chance; run
# `HYPOTHESIS_PROFILE=explore make test` to search new random examples.
hypothesis_settings.register_profile("default", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def skip_or_fail(reason: str, required_env: str) -> None:
    """Skip with a visible reason, unless CI demands the resource (then fail)."""
    if os.environ.get(required_env) == "1":
        pytest.fail(f"{reason} (required by {required_env}=1)")
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test (a browser test, a two-process test) ends by flushing every table, taking the rows
    data migrations installed (the talking-point library) with them; put them back once its teardown is over,
    for the next test that runs in this process (with pytest-xdist the order of tests on a worker is not the
    file order)."""
    yield
    if nextitem is None:  # the last test of this process: the test database is gone with the session
        return
    marker = item.get_closest_marker("django_db")
    names = set(getattr(item, "fixturenames", ()))
    if not ({"transactional_db", "live_server"} & names or (marker is not None and marker.kwargs.get("transaction"))):
        return
    from pytest_django.plugin import blocking_manager_key

    from wuye.casework.talking_points import talking_points_install

    with item.config.stash[blocking_manager_key].unblock():
        talking_points_install()


# The slowest test files, slowest first (seconds of one worker on SQLite before the heap freeze below, on a loaded
# machine, measured with --durations and
# --junitxml on 2026-12-05). scripts/test.sh runs pytest-xdist with `--dist loadfile --no-loadscope-reorder`, so
# the files go to the workers in collection order: these first, then the rest in the usual order. xdist's own
# order (most tests first) sent these few-test files last, and the run ended with one worker alone on them.
SLOW_FILES_FIRST = (
    "tests/dunning/test_scenarios.py",    # 3235 s in 28 tests (42 % of the pass), each test a unit of its own
    "tests/dunning/test_incremental.py",  # 795 s, one property test 602 s of it
    "tests/casework/test_scenarios.py",   # 242 s
    "tests/corpus/test_corpus.py",        # 220 s
    "tests/security/test_inputs.py",      # 144 s
    "tests/casework/test_field_api.py",   # 124 s
    "tests/e2e/test_demo_walk.py",        # 116 s (the demo's setup), once
    "tests/dunning/test_ladder.py",       # 109 s
    "tests/e2e/test_page_walk.py",        # 100 s
)
# Files whose tests share nothing wider than a function's fixtures, and are long enough that keeping them on one
# worker (loadfile) made that worker the whole pass: xdist hands out each of their tests on its own.
PER_TEST_FILES = {"tests/dunning/test_scenarios.py"}


def pytest_collection_modifyitems(config, items):
    rank = {path: n for n, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: the rest keep order


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, except that each test of PER_TEST_FILES is a unit of work of its own."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SlowFilesSplit(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.split("::", 1)[0] in PER_TEST_FILES else super()._split_scope(nodeid)

    return SlowFilesSplit(config, log)


PG_TEST_OPTIONS = "-c synchronous_commit=off"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The test databases on PostgreSQL commit without waiting for the WAL to reach the disk
    (``synchronous_commit=off``): a commit stays atomic and is seen by every other session at once, only the
    last few hundred milliseconds of commits could be lost if the server crashed, which a test database never
    needs. A transactional test (browser, two-process) commits every row its fixtures write, and the migrations
    commit once each; each such commit waited ~6 ms for fdatasync on CI's disk. Set on this process's
    connections (the migrations, the test, the live server's threads) here, and on the child processes' through
    the database's own setting (``_pg_children_commit_async``)."""
    from django.conf import settings

    for db in settings.DATABASES.values():
        if db["ENGINE"] == "django.db.backends.postgresql":
            options = db.setdefault("OPTIONS", {})
            options["options"] = (options.get("options", "") + " " + PG_TEST_OPTIONS).strip()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django made the test database: the same setting for every later connection to it, from a
    child process too (which connects by DATABASE_URL, without this process's OPTIONS)."""
    import gc

    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET synchronous_commit = off')
    # The daily run ends with a full gc.collect() (wuye.common.memory.collector_paused), cheap in a worker but
    # not in a test process: it walked everything the session holds (Django's apps, the migrations' model
    # states) at ~150 ms a call, and a scenario walk runs the engine every day of a year. Freeze what exists
    # now (never collected, as it lives to the end of the session anyway); later collections walk only
    # what the tests themselves made.
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the process's cache outlives the rolled-back database (the
    insights roll-ups are shared between requests under their snapshot's stamp, decision 198)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True, scope="session")
def _huey_immediate():
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield


@pytest.fixture
def make_user(db):
    from wuye.accounts.models import User

    def make(username: str, role: str, **extra):
        user = User.objects.create_user(username=username, password="pw-12345678", role=role,
                                        display_name=extra.pop("display_name", username), **extra)
        return user

    return make


@pytest.fixture
def alice(make_user):
    """经理 (manager)."""
    return make_user("alice", Role.MANAGER, is_staff=True)


@pytest.fixture
def bob(make_user):
    """收费员 (collector) responsible for building 1 of the estate."""
    return make_user("bob", Role.COLLECTOR)


@pytest.fixture
def carol(make_user):
    """法务 (legal): sees personal data in clear."""
    return make_user("carol", Role.LEGAL)


@pytest.fixture
def dave(make_user):
    """客服 (customer service): sees masks, may reveal."""
    return make_user("dave", Role.SERVICE)


@pytest.fixture
def admin_user(make_user):
    return make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def estate(db, alice):
    """One 小区 with three buildings × 6 floors × 2 units, owners with phones; building 3 floors 4–6 unsold."""
    from wuye.estate.choices import ContactKind, ContactSource, OccupantRole, PartyKind, PropertyType
    from wuye.estate.models import Building, Party, Project, Unit
    from wuye.estate.services import contact_add, occupancy_start

    dev = Party.objects.create(kind=PartyKind.COMPANY, name="绿城置业", natural_key="dev:T1", is_developer=True)
    project = Project.objects.create(code="T1", name="测试花园", city="杭州", developer=dev)
    buildings, units = [], []
    n = 0
    for b in (1, 2, 3):
        building = Building.objects.create(project=project, code=str(b), name=f"{b}幢", floors=6)
        buildings.append(building)
        for floor in range(1, 7):
            for k in (1, 2):
                number = f"{floor}0{k}"
                unit = Unit.objects.create(project=project, building=building, floor=floor, number=number,
                                           code=f"{b}-{number}", property_type=PropertyType.LOW_RISE,
                                           area=Decimal("88.50") + k)
                units.append(unit)
                if b == 3 and floor >= 4:
                    continue  # unsold: the developer owes
                n += 1
                owner = Party.objects.create(name=f"业主{n:03d}", natural_key=f"t:{n}")
                occupancy_start(actor=alice, unit=unit, party=owner, role=OccupantRole.OWNER,
                                start=dt.date(2020, 1, 1))
                contact_add(actor=alice, party=owner, kind=ContactKind.MOBILE, value=f"138{n:08d}",
                            source=ContactSource.HANDOVER, is_primary=True)
    return {"project": project, "buildings": buildings, "units": units, "developer": dev}


@pytest.fixture
def bob_territory(bob, alice, estate):
    from wuye.accounts.services import territory_assign

    territory_assign(actor=alice, user=bob, building=estate["buildings"][0])
    return bob


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def billed_estate(estate):
    """The test estate with 物业服务费 at ¥2.00/m²/月 (vacant ¥1.40), monthly, due on the 15th,
    late fee 0.5‰ a day after 5 grace days; every unit occupied."""
    from wuye.billing.models import BillingPolicy, Rate
    from wuye.billing.services import seed_default_fee_items
    from wuye.estate.models import Unit

    project = estate["project"]
    Unit.objects.filter(project=project).update(state="self")
    BillingPolicy.objects.create(project=project, cycle_months=1, due_day=15,
                                 late_fee_per_mille=Decimal("0.5"), late_fee_grace_days=5)
    item = seed_default_fee_items(project, effective_from=dt.date(2020, 1, 1), price_per_m2=Decimal("2.00"))
    Rate.objects.filter(fee_item=item).update(vacant_price=Decimal("1.40"))
    estate["fee_item"] = item
    return estate


@pytest.fixture
def arrears_estate(alice, billed_estate):
    """The test estate billed monthly January–July 2026 (due on the 15th); nobody has paid."""
    from wuye.billing.services import bill_generate

    for month in range(1, 8):
        bill_generate(actor=alice, project=billed_estate["project"], period=dt.date(2026, month, 1))
    return billed_estate
