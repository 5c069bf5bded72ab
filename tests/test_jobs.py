"""The job queue round-trip through the configured storage: Redis when REDIS_URL is set, else SQLite."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import skip_or_fail


@pytest.fixture
def real_queue():
    from huey.contrib.djhuey import HUEY

    if settings.REDIS_URL:
        try:
            HUEY.immediate = False
            HUEY.storage.conn.ping()
        except Exception as exc:  # redis.ConnectionError and friends
            HUEY.immediate = True
            skip_or_fail(f"Redis at {settings.REDIS_URL} not reachable: {exc}", "WUYE_REQUIRE_REDIS")
    elif __import__("os").environ.get("WUYE_REQUIRE_REDIS") == "1":
        pytest.fail("REDIS_URL is not set but WUYE_REQUIRE_REDIS=1")
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


@pytest.mark.django_db(transaction=True)
def test_an_import_is_queued_and_run_by_a_worker(real_queue, alice):
    from wuye.estate.importer import import_submit
    from wuye.estate.models import ImportJob, Unit

    raw = "项目编码,项目名称,楼栋编码,楼层,房号,物业类型,建筑面积\nQ1,队列花园,1,1,101,多层,70.00\n".encode()
    job = import_submit(actor=alice, upload=SimpleUploadedFile("q.csv", raw))
    assert job.status == ImportJob.Status.PENDING  # queued, not run in the request
    assert real_queue.pending_count() == 1
    expected = "PriorityRedisStorage" if settings.REDIS_URL else "SqliteStorage"
    assert type(real_queue.storage).__name__ == expected

    task = real_queue.dequeue()  # what a consumer does
    real_queue.execute(task)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert Unit.objects.filter(code="1-101").exists()
