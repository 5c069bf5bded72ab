"""A table upload larger than WUYE_IMPORT_MAX_BYTES is refused without being read into memory (issue 14 item 2):
every page and endpoint that takes a table file — the estate import, a bank statement (page and API), a
mapping's sample file, a direct-debit result file — reads at most one byte past the bound through
``common.tabular.read_upload``. They read the whole upload first (``upload.read()``) and only then compared its
length with the bound: a file of gigabytes, which Django spools to disk, was loaded into the server's memory.

The bytes read are counted on Django's uploaded file object (the request's boundary); nothing of the project is
replaced."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from rest_framework.test import APIClient

from wuye.banking.models import StatementImport
from wuye.estate.models import ImportJob

from .conftest import DAY, icbc_csv
from .test_debit import batch  # noqa: F401 - a fixture

LIMIT = 4096


@pytest.fixture
def reads(monkeypatch, settings):
    """Uploads spooled to disk as a large one is, with a small bound; the sizes of what each read returned."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    settings.WUYE_IMPORT_MAX_BYTES = LIMIT
    got: list[int] = []

    def read(self, *args):
        data = self.file.read(*args)
        got.append(len(data))
        return data

    monkeypatch.setattr(TemporaryUploadedFile, "read", read, raising=False)
    return got


def _big(name: str) -> SimpleUploadedFile:
    rows = [[DAY, f"J{i}", "", "100.00", "张某", "", "物业费" * 20] for i in range(400)]
    raw = icbc_csv(rows)
    assert len(raw) > 10 * LIMIT
    return SimpleUploadedFile(name, raw)


def _refused(response) -> bool:
    text = response.content.decode()
    return "文件过大" in text and "上限 4,096 字节" in text


def test_the_estate_import_page(client, alice, reads):
    client.force_login(alice)
    response = client.post("/estate/imports/", {"file": _big("units.csv")}, follow=True)
    assert _refused(response) and ImportJob.objects.count() == 0
    assert all(n <= LIMIT + 1 for n in reads), reads


def test_the_bank_statement_page_and_api(client, fiona, icbc_account, reads):
    client.force_login(fiona)
    response = client.post("/banking/", {"account": str(icbc_account.pk), "file": _big("s.csv")}, follow=True)
    assert _refused(response)
    api = APIClient()
    api.force_authenticate(fiona)
    response = api.post("/api/v1/bank-statements/", {"bank_account": icbc_account.pk, "file": _big("s.csv")},
                        format="multipart")
    assert response.status_code == 400 and _refused(response)
    assert StatementImport.objects.count() == 0
    assert all(n <= LIMIT + 1 for n in reads), reads


def test_a_mappings_sample_file(client, fiona, icbc_account, reads):
    client.force_login(fiona)
    response = client.post(f"/banking/accounts/{icbc_account.pk}/", {
        "name": icbc_account.name, "bank": "工商银行", "layout": "icbc_csv", "active": "1", "preview": "1",
        "m_header_row": "1", "m_date": "交易日期", "m_credit": "贷方发生额", "sample": _big("sample.csv")},
        follow=True)
    assert _refused(response)
    assert all(n <= LIMIT + 1 for n in reads), reads


def test_a_direct_debit_result_file(client, fiona, batch, reads):  # noqa: F811
    client.force_login(fiona)
    response = client.post(f"/banking/batches/{batch.pk}/", {"file": _big("result.csv")}, follow=True)
    assert _refused(response)
    assert all(n <= LIMIT + 1 for n in reads), reads
