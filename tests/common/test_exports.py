"""Formula injection: no spreadsheet or CSV the system writes can carry a live formula.

The list of writers is taken from the code: every function in src/wuye that creates an openpyxl Workbook or a
CSV writer. Each needs a scenario here that fills its data with hostile text (a name ``=HYPERLINK(...)``,
``+cmd|...``, ``-1+...``, ``@SUM(...)``) and downloads it the way a user does; a new export without a scenario
fails ``test_every_writer_has_a_scenario``, and one that forgets ``wuye.common.tabular.safe_row`` fails the
scan.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import wuye
from tests.corpus.scan import live_formulas, texts
from wuye.common.tabular import csv_writer, safe_cell, safe_row

SRC = Path(wuye.__file__).resolve().parent
H = '=HYPERLINK("http://x.cn","点我")'
CMD = "+cmd|' /C calc'!A0"
MINUS = "-1+cmd|' /C calc'!A0"
AT = "@SUM(1+1)*cmd"
MARKERS = ("HYPERLINK", "cmd|", "SUM(")
HELPERS = {"wuye.common.tabular.SafeCsvWriter.__post_init__"}  # the helper itself


def _writers() -> set[str]:
    """module.function of every function under src/wuye that makes a workbook or a CSV writer."""
    found = set()
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = "wuye." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node, scope: list[str], _module=module):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(child, [*scope, child.name])
                    continue
                if isinstance(child, ast.Call) and scope:
                    func = child.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
                    if name == "Workbook" or (owner == "csv" and name in ("writer", "DictWriter")) \
                            or name == "csv_writer":
                        found.add(f"{_module}.{'.'.join(scope)}")
                visit(child, scope)

        visit(tree, [])
    return found - HELPERS


# --- hostile data ---------------------------------------------------------------------------------------------

@pytest.fixture
def finance(make_user):
    from wuye.accounts.choices import Role

    return make_user("fiona", Role.FINANCE)


@pytest.fixture
def hostile(arrears_estate, alice, finance):
    """The arrears estate with hostile text wherever a person can type it, and one of each thing exported."""
    from wuye.banking.services import bank_account_save, debit_batch_create, mandate_create, statement_import
    from wuye.billing.choices import PaymentMethod
    from wuye.billing.models import FeeItem
    from wuye.billing.services import payment_record
    from wuye.dunning.dispatch import dispatch
    from wuye.dunning.engine import dunning_run
    from wuye.dunning.models import Action, Step
    from wuye.estate import importer
    from wuye.estate.models import Building, Party, Project, Unit

    project = arrears_estate["project"]
    Project.objects.filter(pk=project.pk).update(name=H)
    Building.objects.filter(project=project).update(name=AT)
    Party.objects.filter(occupancies__unit__project=project).update(name=CMD)
    FeeItem.objects.filter(project=project).update(name=MINUS)
    unit = Unit.objects.get(project=project, code="1-101")
    payment_record(actor=alice, unit=unit, amount_fen=100, method=PaymentMethod.CASH,
                   paid_at=dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC), note=H, payer_name=CMD)

    dunning_run(as_of=dt.date(2026, 4, 20))
    dispatch(now=dt.datetime(2026, 4, 20, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    Action.objects.filter(channel="registered").update(address=H)
    Step.objects.filter(actions__channel="registered").update(name=AT)

    for code in ("1-101", "1-102"):
        mandate_create(actor=finance, unit=Unit.objects.get(project=project, code=code), payer_name=H, bank=CMD,
                       account_no="62284800000000" + code[-3:], signed_on=dt.date(2026, 1, 5))
    batch = debit_batch_create(actor=finance, project=project, as_of=dt.date(2026, 7, 20))

    bad_estate = ("项目编码,项目名称,楼栋编码,楼层,房号,物业类型,建筑面积,业主姓名\n"
                  f'X1,"{H.replace(chr(34), chr(34) * 2)}",1,1,101,"{MINUS}",{AT},"{CMD}"\n').encode()
    job = importer.import_submit(actor=alice, upload=SimpleUploadedFile("bad.csv", bad_estate))
    assert job.errors
    account = bank_account_save(actor=finance, project=project, name="收款户", bank="工商银行",
                                account_no="1202020109000012345", layout="icbc_csv")
    bad_bank = ("交易日期,交易流水号,摘要,借方发生额,贷方发生额,余额,对方户名,对方账号,附言\n"
                f'2026-07-20,S1,"{MINUS}",,"{H.replace(chr(34), chr(34) * 2)}",,"{CMD}",,"{AT}"\n').encode()
    statement = statement_import(actor=finance, account=account, filename="bad.csv", raw=bad_bank)
    assert statement.errors
    building = Building.objects.get(project=project, code="1")
    return {"unit": unit, "batch": batch, "job": job, "statement": statement, "building": building}


def _content(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content) if response.streaming else response.content


def _as(client, user):
    client.force_login(user)
    return client


SCENARIOS = {
    "wuye.estate.exports.units_xlsx": lambda c, h, alice, finance: [
        (_content(_as(c, alice).get("/estate/units/export.xlsx")), "xlsx")],
    "wuye.estate.importer.template_xlsx": lambda c, h, alice, finance: [
        (_content(_as(c, alice).get("/estate/imports/template.xlsx")), "xlsx")],
    "wuye.estate.importer.error_report_xlsx": lambda c, h, alice, finance: [
        (_content(_as(c, alice).get(f"/estate/imports/{h['job'].pk}/errors.xlsx")), "xlsx"),
        (_content(_as(c, finance).get(f"/banking/statements/{h['statement'].pk}/errors.xlsx")), "xlsx")],
    "wuye.billing.documents.statement_xlsx": lambda c, h, alice, finance: [
        (_content(_as(c, alice).get(f"/billing/units/{h['unit'].pk}/statement.xlsx")), "xlsx")],
    "wuye.dunning.notices.ems_list_xlsx": lambda c, h, alice, finance: [
        (_content(_as(c, alice).get(f"/collection/notices/?date=2026-04-20&building={h['building'].pk}"
                                    "&format=xlsx")), "xlsx")],
    "wuye.banking.exports.debit_csv": lambda c, h, alice, finance: [
        (_content(_as(c, finance).get(f"/banking/batches/{h['batch'].pk}/debit.csv")), "csv")],
    "wuye.billing.takings.takings_xlsx": lambda c, h, alice, finance: [  # today's 收款日报 (payer and note)
        (_content(_as(c, alice).get("/billing/takings/?format=xlsx")), "xlsx")],
    "wuye.banking.exports.debit_xlsx": lambda c, h, alice, finance: [
        (_content(_as(c, finance).get(f"/banking/batches/{h['batch'].pk}/debit.xlsx")), "xlsx")],
}


def _pack_csvs(c, h, alice, finance):
    """The evidence pack's data files (催缴记录.csv, 欠费明细.csv), from the ZIP a legal user downloads."""
    import zipfile

    from wuye.accounts.choices import Role
    from wuye.accounts.models import User
    from wuye.estate.models import Party
    from wuye.legal.pack import build_pack
    from wuye.legal.services import case_open

    legal = User.objects.create_user(username="lena", password="x", role=Role.LEGAL)
    unit = h["unit"]
    party = Party.objects.filter(occupancies__unit=unit).first()
    case = case_open(actor=legal, project=unit.project, party=party, on=dt.date(2026, 7, 20))
    pack = build_pack(actor=legal, case=case, as_of=dt.date(2026, 7, 20))
    data = _content(_as(c, legal).get(f"/legal/packs/{pack.pk}/zip/"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(zf.read(n), "csv") for n in zf.namelist() if n.endswith(".csv")]


SCENARIOS["wuye.legal.pack._csv"] = _pack_csvs


def _insights_tables(c, h, alice, finance):
    """The manager's tables (project, building and fee item names are hostile) and the drill-down list, of a
    closed month (pages and exports read snapshots only, decision 95)."""
    from wuye.estate.models import Project
    from wuye.insights.disclosure import expense_record
    from wuye.insights.services import month_close

    month_close(period=dt.date(2026, 7, 1), today=dt.date(2026, 8, 5))
    project = Project.objects.get(name=H)
    expense_record(actor=finance, project=project, category="other", amount_fen=12_000,
                   spent_on=dt.date(2026, 7, 10), voucher_no=CMD, note=MINUS)  # what finance types in the ledger
    return [(_content(_as(c, alice).get(f"/insights/export/{name}.xlsx?period=2026-07")), "xlsx")
            for name in ("projects", "buildings", "fee_items", "units")] + [
        (_content(_as(c, alice).get(f"/insights/export/expenses.xlsx?project={project.pk}&year=2026&quarter=3")),
         "xlsx")]


SCENARIOS["wuye.insights.exports.table_xlsx"] = _insights_tables
NO_USER_DATA = {"wuye.estate.importer.template_xlsx"}  # fixed content: scanned, but nothing hostile can reach it


def test_every_writer_has_a_scenario():
    writers = _writers()
    assert "wuye.estate.exports.units_xlsx" in writers  # the scan itself works
    assert writers == set(SCENARIOS), ("a function writes a spreadsheet or CSV without a scenario here "
                                       "(or a scenario names a writer that is gone)")


@pytest.mark.django_db
@pytest.mark.parametrize("writer", sorted(SCENARIOS))
def test_no_export_carries_a_live_formula(writer, client, hostile, alice, finance):
    outputs = SCENARIOS[writer](client, hostile, alice, finance)
    for content, kind in outputs:
        assert live_formulas(content, kind) == []
        if writer not in NO_USER_DATA:
            cells = texts(content, kind)
            assert any(m in t for t in cells for m in MARKERS), f"{writer}: no hostile text reached the output"
            assert any(t.startswith("'") and any(m in t for m in MARKERS) for t in cells), cells


# --- the issue's own case, and the helper ----------------------------------------------------------------------

@pytest.mark.django_db
def test_a_formula_name_imported_from_csv_comes_back_as_text(alice, client):
    """The report: a name =HYPERLINK(…) imported from CSV came back as a live formula in the unit export and in
    the error report."""
    import openpyxl

    from wuye.estate import importer

    quoted = H.replace('"', '""')
    good = ("项目编码,项目名称,楼栋编码,楼层,房号,物业类型,建筑面积,业主姓名\n"
            f'F1,"{quoted}",1,1,101,高层,80,"{quoted}"\n').encode()
    assert importer.import_submit(actor=alice, upload=SimpleUploadedFile("ok.csv", good)).status == "succeeded"
    client.force_login(alice)
    wb = openpyxl.load_workbook(io.BytesIO(_content(client.get("/estate/units/export.xlsx"))))
    row = [c for c in wb.active[2]]
    assert row[0].value == "'" + H and row[0].data_type == "s"
    assert row[9].value == "'" + H
    bad = ("项目编码,项目名称,楼栋编码,楼层,房号,物业类型,建筑面积\n"
           f'F1,x,1,1,101,"{quoted}",80\n').encode()
    job = importer.import_submit(actor=alice, upload=SimpleUploadedFile("bad.csv", bad))
    report = openpyxl.load_workbook(io.BytesIO(_content(client.get(f"/estate/imports/{job.pk}/errors.xlsx"))))
    values = [c.value for row in report.active.iter_rows() for c in row]
    assert "'" + H in values and not any(c.data_type == "f" for row in report.active.iter_rows() for c in row)


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("-", "'-"), ("-300.00", "-300.00"), ("+86", "+86"), ("-1,234.50", "-1,234.50"),
    ("-¥12.00", "-¥12.00"), ("张三", "张三"), ("a=1", "a=1"), ("", ""), ("名\x07字", "名字"), ("=\x00", "'="),
    (-5, -5), (1.5, 1.5), (None, None),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_numbers_and_dates_stay_what_they_are():
    from decimal import Decimal

    day = dt.date(2026, 1, 1)
    assert safe_row([Decimal("-3.50"), day, -7]) == [Decimal("-3.50"), day, -7]


def test_safe_cells_never_become_formulas_in_a_workbook_or_csv():
    import openpyxl
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
    def check(values):
        wb = openpyxl.Workbook()
        wb.active.append(safe_row(values))
        out = io.BytesIO()
        wb.save(out)
        assert live_formulas(out.getvalue(), "xlsx") == []
        text = io.StringIO()
        csv_writer(text).writerow(values)
        assert live_formulas(text.getvalue().encode(), "csv") == []

    check()
