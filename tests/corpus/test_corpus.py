"""Standing check: every file of the bad-input corpus, uploaded through the real pages of the estate import
and of the bank statement import (the job runs in the request, as with WUYE_HUEY_IMMEDIATE), gets a clean
import or a clear Chinese error — never a 500, never a partial write, within 10 s and a bounded amount of
memory. See make_corpus.py for the files and what each import must answer.

Memory is checked twice: in the request the process may not grow its address space by more than 1.5 GB (a
regression then fails with MemoryError instead of exhausting the machine), and a separate process per file
reads it with ``read_table`` and reports its peak resident memory.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.corpus import make_corpus as mc
from tests.corpus.scan import live_formulas

SMALL = sorted(mc.small_cases())
LARGE = sorted(mc.LARGE_CASES)
# A hostile file must be answered, not walked cell by cell (that took minutes and ended in MemoryError).
# The bound catches that failure, not speed: a 20 MB file takes ~3 s on a quiet machine and 14 s on one whose
# two cores run several suites; speed is measured in bench/bench_read_table.py.
SECONDS = 60
ADDRESS_SPACE_HEADROOM = 1536 << 20
READER_RSS_LIMIT_MB = 400


@pytest.fixture(scope="session")
def large_files(tmp_path_factory):
    """The large corpus files, built once per session on first use."""
    folder = tmp_path_factory.mktemp("corpus")
    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in built:
            path = folder / name
            path.write_bytes(mc.LARGE_CASES[name][0]())
            built[name] = path
        return built[name]

    return get


def _case(name: str, large_files) -> tuple[bytes, str, str]:
    if name in mc.LARGE_CASES:
        _builder, estate, bank = mc.LARGE_CASES[name]
        return large_files(name).read_bytes(), estate, bank
    _data, estate, bank = mc.small_cases()[name]
    return (mc.FILES / name).read_bytes(), estate, bank


@pytest.mark.once  # no database
def test_the_committed_files_are_what_the_script_makes():
    made = mc.small_cases()
    committed = {p.name for p in mc.FILES.iterdir()}
    assert committed == set(made), "run: python tests/corpus/make_corpus.py"
    for name, (data, _estate, _bank) in made.items():
        assert _canonical(name, (mc.FILES / name).read_bytes()) == _canonical(name, data), \
            f"{name} differs: run python tests/corpus/make_corpus.py"


def _tree(e):
    """An element as nested tuples with namespaces resolved (where a prefix was declared does not count)."""
    return (e.tag, sorted(e.attrib.items()), (e.text or "").strip(), (e.tail or "").strip(), [_tree(c) for c in e])


def _canonical(name: str, data: bytes):
    """A file's content with XML inside a zip in canonical form: openpyxl writes the same document with its
    namespace declarations in different places depending on whether it serialises through lxml, and the zip
    bytes follow. Members and their order, and every non-XML byte, still count."""
    import xml.etree.ElementTree as ET

    if not data.startswith(b"PK"):
        return data
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return data  # a deliberately broken archive: compare its bytes
    out = []
    for member, body in members:
        if member.endswith((".xml", ".rels")):
            try:
                body = _tree(ET.fromstring(body))
            except ET.ParseError:
                pass
        out.append((member, body))
    return out


class _AddressSpaceGuard:
    """Lower the soft RLIMIT_AS to what the process uses now plus ``headroom`` for the duration."""

    def __init__(self, headroom: int):
        self.headroom = headroom

    def __enter__(self):
        self.saved = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
        soft = vm + self.headroom
        if self.saved[1] != resource.RLIM_INFINITY:
            soft = min(soft, self.saved[1])
        resource.setrlimit(resource.RLIMIT_AS, (soft, self.saved[1]))
        return self

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_AS, self.saved)


def _upload(client, url: str, name: str, raw: bytes, **data):
    started = time.perf_counter()
    with _AddressSpaceGuard(ADDRESS_SPACE_HEADROOM):
        response = client.post(url, {"file": SimpleUploadedFile(name, raw), **data}, follow=True)
    return response, time.perf_counter() - started


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def _estate_counts() -> dict[str, int]:
    from wuye.accounts.models import AuditEvent
    from wuye.estate.models import Building, ContactPoint, Occupancy, Party, Project, Unit, UnitStateChange

    counts = {m.__name__: m.objects.count() for m in (Project, Building, Unit, Party, Occupancy, ContactPoint,
                                                       UnitStateChange)}
    counts["apply_events"] = AuditEvent.objects.filter(verb="import.apply").count()
    return counts


def _bank_counts() -> dict[str, int]:
    from wuye.banking.models import StatementLine
    from wuye.billing.models import Allocation, Payment

    return {m.__name__: m.objects.count() for m in (StatementLine, Payment, Allocation)}


@pytest.fixture
def finance(make_user):
    from wuye.accounts.choices import Role

    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def bank_account(finance, estate):
    from wuye.banking.services import bank_account_save

    return bank_account_save(actor=finance, project=estate["project"], name="语料收款户", bank="工商银行",
                             account_no="1202020109000012345", layout="icbc_csv")


@pytest.mark.django_db
@pytest.mark.parametrize("name", SMALL + LARGE)
def test_estate_import_answers_every_corpus_file(name, client, alice, large_files):
    from wuye.estate.models import ImportJob, Party, Unit

    raw, expected, _bank = _case(name, large_files)
    client.force_login(alice)
    before = _estate_counts()
    jobs_before = ImportJob.objects.count()
    response, seconds = _upload(client, "/estate/imports/", name, raw)
    assert response.status_code == 200
    assert seconds < SECONDS, f"{name}: {seconds:.1f} s"
    job = ImportJob.objects.order_by("-pk").first() if ImportJob.objects.count() > jobs_before else None
    if expected == "ok":
        assert job is not None and job.status == ImportJob.Status.SUCCEEDED, (job and job.errors, _messages(response))
        assert Unit.objects.count() > before["Unit"]
        assert not Party.objects.filter(name__regex=r"[\x00-\x08\x0b\x0c\x0e-\x1f]").exists()
        page = client.get("/estate/units/?project=" + str(Unit.objects.get(code="1-101", project__code="CORP")
                                                           .project_id)).content.decode()
        assert "<script>alert(1)</script>" not in page
        return
    assert _estate_counts() == before, f"{name}: partial write"
    if job is None:  # refused at upload, before anything was stored
        text = _messages(response)
    else:
        assert job.status == ImportJob.Status.FAILED, job.status
        assert job.errors and all(e["message"] for e in job.errors)
        text = " ".join(f"{e['column']} {e['message']}" for e in job.errors)
        report = client.get(f"/estate/imports/{job.pk}/errors.xlsx")
        assert report.status_code == 200
        assert live_formulas(b"".join(report.streaming_content), "xlsx") == []
    assert expected in text, f"{name}: {text}"
    assert "内部错误" not in text and "Error" not in text.replace("RowError", ""), text


@pytest.mark.django_db
@pytest.mark.parametrize("name", SMALL + LARGE)
def test_bank_import_answers_every_corpus_file(name, client, finance, bank_account, large_files):
    from wuye.banking.models import StatementImport, StatementLine

    raw, _estate, expected = _case(name, large_files)
    client.force_login(finance)
    before = _bank_counts()
    imports_before = StatementImport.objects.count()
    response, seconds = _upload(client, "/banking/", name, raw, account=bank_account.pk, mode="apply")
    assert response.status_code == 200
    assert seconds < SECONDS, f"{name}: {seconds:.1f} s"
    statement = (StatementImport.objects.order_by("-pk").first()
                 if StatementImport.objects.count() > imports_before else None)
    if expected == "ok":
        assert statement is not None and statement.status == StatementImport.Status.APPLIED, (
            statement and statement.errors, _messages(response))
        assert StatementLine.objects.count() > before["StatementLine"]
        assert "<script>alert(1)</script>" not in response.content.decode()
        assert not StatementLine.objects.filter(payer_name__regex=r"[\x00-\x08\x0b\x0c\x0e-\x1f]").exists()
        return
    assert _bank_counts() == before, f"{name}: partial write"
    if statement is None:
        text = _messages(response)
    else:
        assert statement.status == StatementImport.Status.FAILED, statement.status
        assert statement.errors and all(e["message"] for e in statement.errors)
        text = " ".join(f"{e['column']} {e['message']}" for e in statement.errors)
        report = client.get(f"/banking/statements/{statement.pk}/errors.xlsx")
        assert report.status_code == 200
        assert live_formulas(report.content, "xlsx") == []
    assert expected in text, f"{name}: {text}"
    assert "内部错误" not in text, text


_READER = """
import json, resource, sys, time
from wuye.common.tabular import ImportRejected, Limits, read_table
limits = Limits(**json.loads(sys.argv[2]))
raw = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    table = read_table(sys.argv[1], raw, limits=limits)
    answer = "ok"
except ImportRejected as exc:
    answer = str(exc)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
print(json.dumps({"answer": answer, "grown_mb": grown / 1024, "seconds": time.perf_counter() - started}))
"""


@pytest.mark.once  # no database (a child process reads the file)
@pytest.mark.parametrize("name", SMALL + LARGE)
def test_reading_each_corpus_file_takes_bounded_memory(name, large_files, settings, tmp_path):
    """A fresh process reads the file with the configured bounds: its resident memory grows by less than
    READER_RSS_LIMIT_MB (the address space is capped at 3 GB, so a regression dies quickly instead of
    swapping), and it answers within the time bound."""
    path = large_files(name) if name in mc.LARGE_CASES else mc.FILES / name
    limits = {
        "max_bytes": settings.WUYE_IMPORT_MAX_BYTES, "max_rows": settings.WUYE_IMPORT_MAX_ROWS,
        "max_columns": settings.WUYE_IMPORT_MAX_COLUMNS, "max_cells": settings.WUYE_IMPORT_MAX_CELLS,
        "max_row_chars": settings.WUYE_IMPORT_MAX_ROW_CHARS,
        "max_unpacked_bytes": settings.WUYE_IMPORT_MAX_UNPACKED_BYTES,
        "max_ratio": settings.WUYE_IMPORT_MAX_COMPRESSION_RATIO,
    }

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _READER, str(path), json.dumps(limits)], capture_output=True,
                          text=True, timeout=60, preexec_fn=cap, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["grown_mb"] < READER_RSS_LIMIT_MB, result
    assert result["seconds"] < SECONDS, result
