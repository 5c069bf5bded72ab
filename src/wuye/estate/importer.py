"""Import of projects, buildings, units, owners, tenants and contacts from one spreadsheet.

One row per unit. The file is .xlsx or CSV in UTF-8 or GBK/GB18030, read within bounds by
``wuye.common.tabular.read_table`` (a cell merged down one column is filled from its top-left cell; a merge
over the header or across columns of a data row is an error). Every row is checked first — including each
text against its database column's length and each date against 1900–2100 — and any problem fails the whole
file, the database is left as it was, and the errors (row number as the user sees it, column header, value,
message) go into a downloadable report. A clean file is applied in one transaction with set-based reads and
bulk writes, and is idempotent: importing the same file again changes nothing. Anything that still goes
wrong while writing marks the job failed with a readable message (the traceback goes to the log).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.common.changes import projects_changed
from wuye.common.params import FLOOR_MAX, FLOOR_MIN
from wuye.common.tabular import (
    ImportRejected,
    RowError,
    Table,
    header_problems,
    job_failure_message,
    merge_errors,
    normalise_header,
    read_table,
    read_upload,
    safe_row,
)
from wuye.estate.choices import (
    ContactKind,
    ContactSource,
    OccupancyState,
    OccupantRole,
    PartyKind,
    ProjectKind,
    PropertyType,
)
from wuye.estate.models import (
    Building,
    ContactPoint,
    ImportJob,
    Occupancy,
    Party,
    Project,
    Unit,
    UnitStateChange,
)
from wuye.estate.services import parties_match, party_natural_key

__all__ = ["COLUMNS", "ImportRejected", "RowError", "import_run", "import_submit", "imports_recover_stale", "read_table"]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = False
    example: str = ""
    help: str = ""


COLUMNS: list[Column] = [
    Column("project_code", "项目编码", True, "CHY", "项目的唯一编码"),
    Column("project_name", "项目名称", True, "翠湖园"),
    Column("project_kind", "项目类型", False, "住宅小区", "住宅小区 或 写字楼，默认住宅小区"),
    Column("city", "城市", False, "杭州"),
    Column("building_code", "楼栋编码", True, "3", "项目内唯一"),
    Column("building_name", "楼栋名称", False, "3幢"),
    Column("entrance", "单元", False, "2"),
    Column("floor", "楼层", True, "15", "整数，地下层用负数"),
    Column("number", "房号", True, "1502"),
    Column("unit_code", "房屋编码", False, "3-2-1502", "留空时由 楼栋编码-单元-房号 组成"),
    Column("property_type", "物业类型", True, "高层", "多层/小高层/高层/联排别墅/独立别墅/商铺/写字楼/车位"),
    Column("area", "建筑面积", True, "89.56", "平方米，最多两位小数"),
    Column("state", "入住状态", False, "自住", "空置/装修中/自住/出租"),
    Column("delivered_on", "交付日期", False, "2019-06-30"),
    Column("owner_kind", "业主类型", False, "个人", "个人 或 单位，默认个人"),
    Column("owner_name", "业主姓名", False, "张伟", "留空表示未售/未交付，由开发商承担"),
    Column("owner_id_number", "证件号码", False, "", "身份证号或统一社会信用代码"),
    Column("owner_mobile", "手机号码", False, "13812345678"),
    Column("owner_phone2", "备用电话", False, "0571-87654321"),
    Column("owner_email", "电子邮箱", False, ""),
    Column("owner_address", "通讯地址", False, "", "寄送挂号信/EMS 的地址"),
    Column("owner_since", "产权起始日期", False, "2019-06-30"),
    Column("tenant_name", "租户姓名", False, ""),
    Column("tenant_mobile", "租户电话", False, ""),
    Column("tenant_since", "租住起始日期", False, ""),
    Column("signer_name", "指定负责人", False, "", "写字楼单位的签收人"),
    Column("signer_mobile", "负责人电话", False, ""),
]
HEADER_TO_KEY = {c.header: c.key for c in COLUMNS}
KEY_TO_HEADER = {c.key: c.header for c in COLUMNS}
REQUIRED = [c.key for c in COLUMNS if c.required]

_PROJECT_KIND = {label: value for value, label in ProjectKind.choices} | {"小区": ProjectKind.RESIDENTIAL,
                                                                          "住宅": ProjectKind.RESIDENTIAL}
_PROPERTY_TYPE = {label: value for value, label in PropertyType.choices}
_STATE = {label: value for value, label in OccupancyState.choices} | {
    "空置": OccupancyState.VACANT, "未入住": OccupancyState.VACANT, "装修": OccupancyState.DECORATING,
    "已入住": OccupancyState.SELF_OCCUPIED,
}
_PARTY_KIND = {label: value for value, label in PartyKind.choices} | {"公司": PartyKind.COMPANY,
                                                                      "企业": PartyKind.COMPANY}

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"
PROGRESS_EVERY = 500
CHUNK = 900  # rows per IN (...) lookup; well under SQLite's bound-parameter limit


def resident_id_valid(value: str) -> bool:
    """18-digit resident ID with its ISO 7064 check character."""
    if len(value) != 18 or not (value[:17].isascii() and value[:17].isdigit()):
        return False
    total = sum(int(ch) * w for ch, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


@dataclass
class CleanRow:
    row: int
    data: dict = field(default_factory=dict)


# --- the header ---------------------------------------------------------------------------------------

def find_header(rows: Table | list[list[str]]) -> tuple[int, dict[int, str], list[str]]:
    """Locate the header row among the first ten (a title row above it is common) → (index, col→key, unknown).
    A header with merged cells or with a column named twice (after folding spaces and full-width characters)
    is refused, naming the range or the columns: either would make a column's meaning a guess."""
    table = rows if isinstance(rows, Table) else Table(rows)
    for index, row in enumerate(table[:10]):
        names = [normalise_header(c) for c in row]
        known = {i: HEADER_TO_KEY[n] for i, n in enumerate(names) if n in HEADER_TO_KEY}
        if len(known) >= 3:
            problems = header_problems(table, index, lambda n: n in HEADER_TO_KEY)
            if problems:
                raise ImportRejected(problems[0].message, row=index + 1, errors=problems)
            unknown = [n for n in names if n and n not in HEADER_TO_KEY]
            return index, known, unknown
    raise ImportRejected("找不到表头：第一行（或标题行下方）应包含“项目编码”“楼栋编码”“房号”等列名，请使用导入模板。")


# --- validating rows ----------------------------------------------------------------------------------

def _parse_date(text: str) -> dt.date:
    text = text.strip().replace("/", "-").replace(".", "-")
    m = re.match(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$", text)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    head = text.split(" ")[0]
    parts = head.split("-")
    if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts):
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    raise ValueError(text)


def parse_phone(text: str) -> tuple[str, str] | None:
    """Normalise a phone to (kind, value); None when it is not a phone number."""
    compact = re.sub(r"[\s()（）]", "", text)
    if compact.startswith("+86"):
        compact = compact[3:]
    if MOBILE_RE.match(compact):
        return ContactKind.MOBILE, compact
    if LANDLINE_RE.match(compact):
        return ContactKind.LANDLINE, compact
    return None


# Database columns the text columns are written to: their max_length is the import's length limit, so a value
# that PostgreSQL would refuse while writing (SQLite would store it) is a row error before anything is written.
_STORED_IN = {
    "project_code": (Project, "code"), "project_name": (Project, "name"), "city": (Project, "city"),
    "building_code": (Building, "code"), "building_name": (Building, "name"), "entrance": (Unit, "entrance"),
    "number": (Unit, "number"), "unit_code": (Unit, "code"), "owner_name": (Party, "name"),
    "owner_id_number": (Party, "id_number"), "owner_email": (ContactPoint, "value"),
    "owner_address": (ContactPoint, "value"), "tenant_name": (Party, "name"), "signer_name": (Party, "name"),
}
MAX_LENGTH = {key: model._meta.get_field(name).max_length for key, (model, name) in _STORED_IN.items()}
_AREA = Unit._meta.get_field("area")
AREA_LIMIT = Decimal(10) ** (_AREA.max_digits - _AREA.decimal_places)  # 100,000,000 m² (exclusive)
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2100, 12, 31)


def area_problem(area: Decimal) -> str:
    """Why an area cannot be stored ("" when it can): shared by the import and the forms."""
    if not area.is_finite():
        return "建筑面积应为数字，如 89.56"
    if area <= 0:
        return "建筑面积应大于 0"
    if area >= AREA_LIMIT:
        return f"建筑面积超出范围（应小于 {AREA_LIMIT:,.0f} 平方米）"
    if area != area.quantize(Decimal("0.01")):
        return "建筑面积最多两位小数"
    return ""


def validate_rows(rows: list[list[str]], header_index: int, colmap: dict[int, str],
                  progress=None) -> tuple[list[CleanRow], list[RowError]]:
    table = rows if isinstance(rows, Table) else Table(rows)
    header = rows[header_index] if header_index < len(rows) else []
    errors: list[RowError] = []
    clean: list[CleanRow] = []
    missing = [k for k in REQUIRED if k not in colmap.values()]
    for key in missing:
        errors.append(RowError(header_index + 1, KEY_TO_HEADER[key], "", "缺少必填列"))
    if missing:
        return clean, errors

    seen_units: dict[tuple[str, str], int] = {}
    project_names: dict[str, tuple[str, int]] = {}
    project_kinds: dict[str, tuple[str, int]] = {}
    data_rows = rows[header_index + 1:]
    for offset, cells in enumerate(data_rows):
        row_no = header_index + 2 + offset
        if progress and offset and offset % PROGRESS_EVERY == 0:
            progress(offset)
        raw = {key: (cells[i] if i < len(cells) else "") for i, key in colmap.items()}
        if not any(raw.values()):
            continue  # blank line
        row_errors: list[RowError] = merge_errors(table, row_no - 1, header) if table.merges else []

        def bad(key: str, message: str, _row=row_no, _raw=raw, _errs=row_errors) -> None:
            _errs.append(RowError(_row, KEY_TO_HEADER[key], _raw.get(key, ""), message))

        for key in REQUIRED:
            if not raw.get(key):
                bad(key, "必填，不能为空")
        out: dict = {k: raw.get(k, "") for k in HEADER_TO_KEY.values()}

        kind_text = raw.get("project_kind", "")
        out["project_kind"] = _PROJECT_KIND.get(kind_text, "") if kind_text else ProjectKind.RESIDENTIAL
        if kind_text and not out["project_kind"]:
            bad("project_kind", "应为“住宅小区”或“写字楼”")

        if raw.get("floor"):
            try:
                out["floor"] = int(raw["floor"])
                if not FLOOR_MIN <= out["floor"] <= FLOOR_MAX:
                    bad("floor", f"楼层超出范围（{FLOOR_MIN} 到 {FLOOR_MAX}）")
            except ValueError:
                bad("floor", "楼层应为整数")
        if raw.get("property_type"):
            out["property_type"] = _PROPERTY_TYPE.get(raw["property_type"], "")
            if not out["property_type"]:
                bad("property_type", "未知的物业类型，可选：" + "、".join(_PROPERTY_TYPE))
        if raw.get("area"):
            try:
                area = Decimal(raw["area"].replace(",", ""))
            except InvalidOperation:
                bad("area", "建筑面积应为数字，如 89.56")
            else:
                problem = area_problem(area)
                if problem:
                    bad("area", problem)
                else:
                    out["area"] = area.quantize(Decimal("0.01"))
        state_text = raw.get("state", "")
        out["state"] = _STATE.get(state_text, "") if state_text else ""
        if state_text and not out["state"]:
            bad("state", "未知的入住状态，可选：空置、装修中、自住、出租")
        for key in ("delivered_on", "owner_since", "tenant_since"):
            if raw.get(key):
                try:
                    out[key] = _parse_date(raw[key])
                except ValueError:
                    bad(key, "日期格式应为 2024-01-31")
                    out[key] = None
                else:
                    if not DATE_MIN <= out[key] <= DATE_MAX:
                        bad(key, f"日期超出范围（应在 {DATE_MIN:%Y-%m-%d} 至 {DATE_MAX:%Y-%m-%d} 之间）")
            else:
                out[key] = None
        owner_kind_text = raw.get("owner_kind", "")
        out["owner_kind"] = _PARTY_KIND.get(owner_kind_text, "") if owner_kind_text else PartyKind.PERSON
        if owner_kind_text and not out["owner_kind"]:
            bad("owner_kind", "应为“个人”或“单位”")
        for key in ("owner_mobile", "owner_phone2", "tenant_mobile", "signer_mobile"):
            if raw.get(key):
                parsed = parse_phone(raw[key])
                if parsed is None:
                    bad(key, "电话号码格式不正确（手机 11 位，固话如 0571-87654321）")
                out[key] = parsed
            else:
                out[key] = None
        if raw.get("owner_email") and not EMAIL_RE.match(raw["owner_email"]):
            bad("owner_email", "电子邮箱格式不正确")
        idn = raw.get("owner_id_number", "").upper().replace(" ", "")
        out["owner_id_number"] = idn
        if idn:
            if out["owner_kind"] == PartyKind.COMPANY:
                if not USCC_RE.match(idn):
                    bad("owner_id_number", "统一社会信用代码应为 18 位")
            elif not resident_id_valid(idn):
                bad("owner_id_number", "身份证号码无效（应为 18 位且校验位正确）")
        if not raw.get("owner_name") and (idn or raw.get("owner_mobile")):
            bad("owner_name", "填写了证件号或电话时，业主姓名不能为空")
        if raw.get("tenant_mobile") and not raw.get("tenant_name"):
            bad("tenant_name", "填写了租户电话时，租户姓名不能为空")
        if raw.get("signer_mobile") and not raw.get("signer_name"):
            bad("signer_name", "填写了负责人电话时，负责人姓名不能为空")
        if (raw.get("owner_since") and out.get("delivered_on") and isinstance(out.get("owner_since"), dt.date)
                and out["owner_since"] < out["delivered_on"]):
            bad("owner_since", "产权起始日期不能早于交付日期")
        if not raw.get("unit_code") and raw.get("building_code") and raw.get("number"):
            parts = [raw["building_code"], raw.get("entrance", ""), raw["number"]]
            out["unit_code"] = "-".join(p for p in parts if p)
        for key, limit in MAX_LENGTH.items():
            if len(out.get(key) or "") > limit:
                bad(key, f"长度不能超过 {limit} 个字符（现有 {len(out[key])} 个）")

        pcode = raw.get("project_code", "")
        if pcode:
            seen_name = project_names.setdefault(pcode, (raw.get("project_name", ""), row_no))
            if raw.get("project_name") and seen_name[0] != raw.get("project_name"):
                bad("project_name", f"同一项目编码在第 {seen_name[1]} 行的名称是“{seen_name[0]}”")
            seen_kind = project_kinds.setdefault(pcode, (out["project_kind"], row_no))
            if out["project_kind"] and seen_kind[0] != out["project_kind"]:
                bad("project_kind", f"同一项目编码在第 {seen_kind[1]} 行的类型不同")
            ukey = (pcode, out.get("unit_code", ""))
            if ukey[1]:
                if ukey in seen_units:
                    bad("unit_code" if raw.get("unit_code") else "number",
                        f"房屋 {ukey[1]} 与第 {seen_units[ukey]} 行重复")
                else:
                    seen_units[ukey] = row_no
        if row_errors:
            errors.extend(row_errors)
        else:
            clean.append(CleanRow(row_no, out))
    return clean, errors


# --- applying -------------------------------------------------------------------------------------------

def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _earliest(*dates: dt.date | None) -> dt.date | None:
    for d in dates:
        if d is not None:
            return d
    return None


def apply_rows(rows: list[CleanRow], *, actor: User, job: ImportJob | None = None) -> dict[str, int]:
    """Write validated rows in one transaction; returns counts of what changed (all zero on a re-import)."""
    today = timezone.localdate()
    source = f"import:{job.pk}" if job else "import"
    counts = dict.fromkeys(
        ["projects_created", "projects_updated", "buildings_created", "buildings_updated", "units_created",
         "units_updated", "states_recorded", "parties_created", "owners_changed", "tenants_changed",
         "contacts_created", "signers_set"], 0)

    with transaction.atomic():
        # Projects
        by_code: dict[str, dict] = {}
        for r in rows:
            by_code.setdefault(r.data["project_code"], r.data)
        projects = {p.code: p for p in Project.objects.filter(code__in=list(by_code))}
        new_projects, changed_projects = [], []
        for code, d in by_code.items():
            p = projects.get(code)
            if p is None:
                new_projects.append(Project(code=code, name=d["project_name"], kind=d["project_kind"],
                                            city=d.get("city", "")))
            elif (p.name, p.kind) != (d["project_name"], d["project_kind"]) or (d.get("city") and p.city != d["city"]):
                p.name, p.kind, p.city = d["project_name"], d["project_kind"], d.get("city") or p.city
                changed_projects.append(p)
        Project.objects.bulk_create(new_projects)
        Project.objects.bulk_update(changed_projects, ["name", "kind", "city"])
        counts["projects_created"], counts["projects_updated"] = len(new_projects), len(changed_projects)
        projects = {p.code: p for p in Project.objects.filter(code__in=list(by_code))}

        # Developers for projects that have unsold units in this file.
        needs_dev = {r.data["project_code"] for r in rows if not r.data.get("owner_name")}
        for code in needs_dev:
            p = projects[code]
            if p.developer_id is None:
                dev, created = Party.objects.get_or_create(
                    natural_key=f"dev:{code}",
                    defaults={"kind": PartyKind.COMPANY, "name": f"{p.name[:MAX_LENGTH['owner_name'] - 3]}开发商",
                              "is_developer": True})
                counts["parties_created"] += int(created)
                p.developer = dev
                p.save(update_fields=["developer"])

        # Buildings
        wanted_b: dict[tuple[int, str], dict] = {}
        for r in rows:
            wanted_b.setdefault((projects[r.data["project_code"]].pk, r.data["building_code"]), r.data)
        pids = {k[0] for k in wanted_b}
        existing_b = {(b.project_id, b.code): b for b in Building.objects.filter(project_id__in=pids)}
        new_b, changed_b = [], []
        for (pid, code), d in wanted_b.items():
            b = existing_b.get((pid, code))
            name = d.get("building_name") or f"{code}栋"
            if b is None:
                new_b.append(Building(project_id=pid, code=code, name=name))
            elif d.get("building_name") and b.name != d["building_name"]:
                b.name = d["building_name"]
                changed_b.append(b)
        Building.objects.bulk_create(new_b)
        Building.objects.bulk_update(changed_b, ["name"])
        counts["buildings_created"], counts["buildings_updated"] = len(new_b), len(changed_b)
        buildings = {(b.project_id, b.code): b for b in Building.objects.filter(project_id__in=pids)}

        # Units
        unit_keys = [(projects[r.data["project_code"]].pk, r.data["unit_code"]) for r in rows]
        existing_u: dict[tuple[int, str], Unit] = {}
        for pid in pids:
            codes = [c for p, c in unit_keys if p == pid]
            for chunk in _chunks(codes):
                for u in Unit.objects.filter(project_id=pid, code__in=chunk):
                    existing_u[(pid, u.code)] = u
        new_u, changed_u = [], []
        fields_u = ["building_id", "entrance", "floor", "number", "property_type", "area", "delivered_on"]
        for r, key in zip(rows, unit_keys, strict=True):
            d = r.data
            values = {
                "building_id": buildings[(key[0], d["building_code"])].pk,
                "entrance": d.get("entrance", ""),
                "floor": d["floor"],
                "number": d["number"],
                "property_type": d["property_type"],
                "area": d["area"],
                "delivered_on": d.get("delivered_on") or (existing_u[key].delivered_on if key in existing_u else None),
            }
            u = existing_u.get(key)
            if u is None:
                u = Unit(project_id=key[0], code=key[1], state=d.get("state") or OccupancyState.VACANT, **values)
                new_u.append(u)
            elif any(getattr(u, f) != v for f, v in values.items()):
                for f, v in values.items():
                    setattr(u, f, v)
                changed_u.append(u)
        Unit.objects.bulk_create(new_u)
        now = timezone.now()
        for u in changed_u:
            u.updated_at = now
        Unit.objects.bulk_update(changed_u, [*fields_u, "updated_at"], batch_size=500)
        counts["units_created"], counts["units_updated"] = len(new_u), len(changed_u)
        units: dict[tuple[int, str], Unit] = {}
        for pid in pids:
            codes = [c for p, c in unit_keys if p == pid]
            for chunk in _chunks(codes):
                for u in Unit.objects.filter(project_id=pid, code__in=chunk):
                    units[(pid, u.code)] = u

        # Occupancy states: a history row for new units and for every change of state.
        new_ids = {u.pk for u in new_u}
        state_rows, state_changed = [], []
        for r, key in zip(rows, unit_keys, strict=True):
            u = units[key]
            state = r.data.get("state")
            if u.pk in new_ids:
                state_rows.append(UnitStateChange(unit=u, state=u.state, recorded_by=actor, source=source,
                                                  since=_earliest(r.data.get("delivered_on"), today)))
            elif state and u.state != state:
                u.state = state
                state_changed.append(u)
                state_rows.append(UnitStateChange(unit=u, state=state, since=today, recorded_by=actor, source=source))
        UnitStateChange.objects.bulk_create(state_rows, batch_size=1000)
        Unit.objects.bulk_update(state_changed, ["state"], batch_size=500)
        counts["states_recorded"] = len(state_changed)

        # Parties (owners, tenants, signers), matched only within the actor's scope (parties_match): a key
        # of a party the actor may not see makes a new party of this project, never a link to that one.
        wanted_parties: dict[tuple[str, int], dict] = {}
        row_keys: list[dict[str, tuple[str, int] | None]] = []
        for r in rows:
            d = r.data
            pid = projects[d["project_code"]].pk
            keys: dict[str, tuple[str, int] | None] = {"owner": None, "tenant": None, "signer": None}
            fallback = f"{d['project_code']}|{d['unit_code']}"
            if d.get("owner_name"):
                k = (party_natural_key(d["owner_name"], d["owner_id_number"], d.get("owner_mobile"), fallback), pid)
                wanted_parties.setdefault(k, {"kind": d["owner_kind"], "name": d["owner_name"],
                                              "id_number": d["owner_id_number"]})
                keys["owner"] = k
            if d.get("tenant_name"):
                k = (party_natural_key(d["tenant_name"], "", d.get("tenant_mobile"), fallback + "|t"), pid)
                wanted_parties.setdefault(k, {"kind": PartyKind.PERSON, "name": d["tenant_name"], "id_number": ""})
                keys["tenant"] = k
            if d.get("signer_name"):
                k = (party_natural_key(d["signer_name"], "", d.get("signer_mobile"), fallback + "|s"), pid)
                wanted_parties.setdefault(k, {"kind": PartyKind.PERSON, "name": d["signer_name"], "id_number": ""})
                keys["signer"] = k
            row_keys.append(keys)
        matches = parties_match(actor=actor, wanted=set(wanted_parties))
        parties: dict[tuple[str, int], Party] = {}
        new_parties: dict[str, Party] = {}
        for wanted, match in matches.items():
            if isinstance(match, Party):
                parties[wanted] = match
            elif match not in new_parties:  # two keys may resolve to one new key (the same person twice)
                new_parties[match] = Party(natural_key=match, **wanted_parties[wanted])
        Party.objects.bulk_create(list(new_parties.values()), batch_size=1000)
        counts["parties_created"] += len(new_parties)
        if new_parties:
            created: dict[str, Party] = {}
            for chunk in _chunks(list(new_parties)):
                for p in Party.objects.filter(natural_key__in=chunk):
                    created[p.natural_key] = p
            for wanted, match in matches.items():
                if not isinstance(match, Party):
                    parties[wanted] = created[match]

        # Owners and tenants: compare with the rows in force; end and start where they differ.
        unit_ids = [u.pk for u in units.values()]
        current: dict[tuple[int, str], Occupancy] = {}
        for chunk in _chunks(unit_ids):
            for occ in Occupancy.objects.filter(unit_id__in=chunk, end__isnull=True).order_by("start", "id"):
                current[(occ.unit_id, occ.role)] = occ
        to_end, to_start = [], []
        for r, key, keys in zip(rows, unit_keys, row_keys, strict=True):
            u, d = units[key], r.data
            # A blank owner never ends a recorded ownership: for a unit without one it means unsold or
            # undelivered (no owner row; the project's developer is liable, as in the synthetic estate).
            owner = parties[keys["owner"]] if keys["owner"] else None
            owner_since = _earliest(d.get("owner_since"), d.get("delivered_on"), u.delivered_on, today)
            for role, party, since in (
                (OccupantRole.OWNER, owner, owner_since),
                (OccupantRole.TENANT, parties[keys["tenant"]] if keys["tenant"] else None,
                 _earliest(d.get("tenant_since"), today)),
            ):
                if party is None:
                    continue
                cur = current.get((u.pk, role))
                if cur is not None and cur.party_id == party.pk:
                    continue
                if cur is not None:
                    if since <= cur.start:
                        since = max(today, cur.start + dt.timedelta(days=1))
                    cur.end = since - dt.timedelta(days=1)
                    to_end.append(cur)
                to_start.append(Occupancy(unit=u, party=party, role=role, start=since, recorded_by=actor,
                                          source=source))
                counts["owners_changed" if role == OccupantRole.OWNER else "tenants_changed"] += 1
        Occupancy.objects.bulk_update(to_end, ["end"], batch_size=500)
        Occupancy.objects.bulk_create(to_start, batch_size=1000)

        # Contacts: add what is missing, never delete (old numbers keep their history).
        wanted_contacts: dict[tuple[int, str, str], bool] = {}
        for r, keys in zip(rows, row_keys, strict=True):
            d = r.data
            if keys["owner"]:
                pid = parties[keys["owner"]].pk
                first = True
                for phone in (d.get("owner_mobile"), d.get("owner_phone2")):
                    if phone:
                        wanted_contacts.setdefault((pid, phone[0], phone[1]), first)
                        first = False
                if d.get("owner_email"):
                    wanted_contacts.setdefault((pid, ContactKind.EMAIL, d["owner_email"]), False)
                if d.get("owner_address"):
                    wanted_contacts.setdefault((pid, ContactKind.ADDRESS, d["owner_address"]), False)
            for role, phone_key in (("tenant", "tenant_mobile"), ("signer", "signer_mobile")):
                if keys[role] and d.get(phone_key):
                    phone = d[phone_key]
                    wanted_contacts.setdefault((parties[keys[role]].pk, phone[0], phone[1]), True)
        party_ids = sorted({k[0] for k in wanted_contacts})
        existing_c: set[tuple[int, str, str]] = set()
        has_primary: set[int] = set()
        for chunk in _chunks(party_ids):
            for pid, kind, value, primary in ContactPoint.objects.filter(party_id__in=chunk).values_list(
                    "party_id", "kind", "value", "is_primary"):
                existing_c.add((pid, kind, value))
                if primary:
                    has_primary.add(pid)
        new_c = []
        for (pid, kind, value), primary in wanted_contacts.items():
            if (pid, kind, value) in existing_c:
                continue
            make_primary = primary and pid not in has_primary
            if make_primary:
                has_primary.add(pid)
            new_c.append(ContactPoint(party_id=pid, kind=kind, value=value, source=ContactSource.IMPORT,
                                      is_primary=make_primary))
        ContactPoint.objects.bulk_create(new_c, batch_size=1000)
        counts["contacts_created"] = len(new_c)

        # Designated signers of company occupants.
        changed_signers = {}
        for keys in row_keys:
            if keys["signer"]:
                company = parties[keys["owner"]] if keys["owner"] else None
                target = company if company is not None and company.kind == PartyKind.COMPANY else None
                if target is None and keys["tenant"]:
                    target = parties[keys["tenant"]]
                signer = parties[keys["signer"]]
                if target is not None and target.designated_signer_id != signer.pk:
                    target.designated_signer_id = signer.pk
                    changed_signers[target.pk] = target
        Party.objects.bulk_update(list(changed_signers.values()), ["designated_signer"])
        counts["signers_set"] = len(changed_signers)

        projects_changed({u.project_id for u in units.values()})  # owners, states and occupancies changed
        audit_record(actor=actor, verb="import.apply", obj=job, after=counts,
                     note=f"{len(rows)} 行" + ("" if any(counts.values()) else "，无任何变化"))
    return counts


# --- the job --------------------------------------------------------------------------------------------

def import_submit(*, actor: User, upload) -> ImportJob:
    """Store an uploaded file as an ImportJob and queue it (runs at once under immediate Huey)."""
    name = getattr(upload, "name", "upload")
    if not name.lower().endswith((".xlsx", ".xlsm", ".csv", ".txt")):
        raise ImportRejected("只支持 .xlsx 和 .csv 文件。" + ("旧版 .xls 请另存为 .xlsx。" if name.lower().endswith(".xls") else ""))
    raw = read_upload(upload)
    job = ImportJob(created_by=actor, filename=name[:200], sha256=hashlib.sha256(raw).hexdigest())
    job.file.save(name, ContentFile(raw), save=False)
    job.save()
    audit_record(actor=actor, verb="import.upload", obj=job, note=name[:200])
    from wuye.estate.tasks import run_import

    run_import(job.pk)
    job.refresh_from_db()
    return job


class Superseded(Exception):
    """This run's claim on the job is no longer the current one (the job was found stale and queued again or
    failed meanwhile): it must write nothing."""


def import_run(job_id: int) -> ImportJob:
    """Validate and, when clean, apply one import job. Whatever happens, the job ends failed or succeeded:
    an unexpected exception (a database refusal while writing, a bug) rolls the writing back, is logged with
    its traceback and marks the job failed with a readable message — never left at 写入中.

    The run first claims the job (a conditional UPDATE from 排队中 that stamps ``started_at``), so two workers
    never run one job; every later write is conditional on that claim, and the success is recorded inside the
    transaction that wrote the rows — a run whose claim went stale meanwhile (``imports_recover_stale``) rolls
    its writing back. A worker that dies leaves the job claimed; the recoverer queues it again or fails it."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.VALIDATING, started_at=now, finished_at=None, attempts=F("attempts") + 1)
    if not claimed:  # taken by another worker, or finished: nothing to do
        return ImportJob.objects.get(pk=job_id)  # DoesNotExist when the row is not committed yet (Huey retries)
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    mine = ImportJob.objects.filter(pk=job.pk, started_at=now,
                                    status__in=(ImportJob.Status.VALIDATING, ImportJob.Status.APPLYING))

    def update(**fields) -> None:
        if not mine.update(**fields):
            raise Superseded
        for k, v in fields.items():
            setattr(job, k, v)

    def finish(status, **fields):
        update(status=status, finished_at=timezone.now(), **fields)
        return job

    try:
        return _import_work(job, update, finish)
    except Superseded:
        logger.warning("import job %s: claim of %s superseded; nothing written", job.pk, now)
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        try:
            return finish(ImportJob.Status.FAILED, errors=[RowError(0, "", "", job_failure_message(exc)).as_dict()])
        except Superseded:
            logger.warning("import job %s: claim of %s superseded; failure not recorded", job.pk, now)
    job.refresh_from_db()
    return job


def _import_work(job: ImportJob, update, finish) -> ImportJob:
    with job.file.open("rb") as fh:
        raw = fh.read()
    try:
        table = read_table(job.filename, raw)
        header_index, colmap, unknown = find_header(table)
    except ImportRejected as exc:
        return finish(ImportJob.Status.FAILED, errors=exc.as_errors())

    update(total_rows=max(0, len(table) - header_index - 1),
           warnings=[f"忽略了未知的列：{'、'.join(unknown)}"] if unknown else [])

    def progress(done: int) -> None:
        update(processed_rows=done)

    clean, errors = validate_rows(table, header_index, colmap, progress)
    errors = errors or scope_errors(clean, job.created_by)
    if errors:
        return finish(ImportJob.Status.FAILED, errors=[e.as_dict() for e in errors], processed_rows=job.total_rows)
    if not clean:
        return finish(ImportJob.Status.FAILED, errors=[RowError(header_index + 2, "", "", "文件中没有数据行").as_dict()])
    update(status=ImportJob.Status.APPLYING, processed_rows=job.total_rows)
    previous = (ImportJob.objects.filter(sha256=job.sha256, status=ImportJob.Status.SUCCEEDED)
                .exclude(pk=job.pk).order_by("-created_at").first())
    warnings = [*job.warnings, f"与导入 #{previous.pk} 的文件内容相同。"] if previous is not None else job.warnings
    with transaction.atomic():
        summary = apply_rows(clean, actor=job.created_by, job=job)
        summary["rows"] = len(clean)
        # recorded with the rows: a claim superseded while writing rolls the rows back (Superseded)
        return finish(ImportJob.Status.SUCCEEDED, summary=summary, warnings=warnings)


INTERRUPTED = "后台处理中断（处理进程退出或超时），整个文件未导入，数据没有任何改变"


LOST = "排队后一直未开始处理（后台处理服务未运行，或排队记录丢失），整个文件未导入，数据没有任何改变"


def imports_recover_stale(*, now: dt.datetime | None = None, job_id: int | None = None) -> dict[str, int]:
    """Import jobs left 校验中 or 写入中 by a worker that died (a restart, the machine's memory killer): the
    writing is one transaction, so nothing of the dead run is in the database; only the job still says
    running, for ever. A job claimed longer ago than ``WUYE_IMPORT_STALE_MINUTES`` is queued again, until it
    has been claimed ``WUYE_IMPORT_MAX_ATTEMPTS`` times; then it is failed with a message saying so. Each
    change is conditional on the stale claim, so two recoverers (the periodic job, the job's page) never both
    act, and the dead run, should it wake up, writes nothing. A periodic job calls it for all jobs, the job's
    page for its own (``job_id``).

    A job still 排队中 that long after it was queued, which no worker claimed, lost its queue message (the
    worker's machine died with it, Redis was flushed): it is put on the queue again (``requeued`` counted),
    ``WUYE_IMPORT_MAX_ATTEMPTS`` times, then failed with a message (decision 171). Sending it again is safe
    even if the first message was only late: the claim lets one worker run it."""
    from django.db.models import Q

    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.WUYE_IMPORT_STALE_MINUTES)
    stale = ImportJob.objects.filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff),  # rows from before claims
        status__in=(ImportJob.Status.VALIDATING, ImportJob.Status.APPLYING))
    lost = ImportJob.objects.filter(Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True, created_at__lt=cutoff),
                                    status=ImportJob.Status.PENDING)
    if job_id is not None:
        stale, lost = stale.filter(pk=job_id), lost.filter(pk=job_id)
    counts = {"requeued": 0, "failed": 0}
    for job in stale.select_related("created_by").order_by("created_at")[:100]:
        claim = ImportJob.objects.filter(pk=job.pk, status=job.status, started_at=job.started_at)
        minutes = int((now - (job.started_at or job.created_at)).total_seconds() // 60)
        if job.attempts >= settings.WUYE_IMPORT_MAX_ATTEMPTS:
            message = (f"{INTERRUPTED}。已自动重试，共处理 {job.attempts} 次均未完成；请检查文件（可拆分成几个较小的"
                       "文件）后重新上传，如仍失败请联系管理员。")
            if _fail_claimed(claim, job, now, message, {"attempts": job.attempts, "stale_minutes": minutes}):
                counts["failed"] += 1
                logger.error("import job %s interrupted %s times: marked failed", job.pk, job.attempts)
            continue
        if claim.update(status=ImportJob.Status.PENDING, processed_rows=0, queued_at=now):
            counts["requeued"] += 1
            logger.warning("import job %s %s for %s min without finishing: queued again", job.pk, job.status,
                           minutes)
            audit_record(actor=None, actor_label="job:estate.recover", verb="import.requeue", obj=job,
                         note=f"处理中已 {minutes} 分钟未完成，视为中断，重新排队",
                         after={"attempts": job.attempts, "stale_minutes": minutes})
            from wuye.estate.tasks import run_import

            run_import(job.pk)
    for job in lost.order_by("created_at")[:100]:
        # conditional on the job being still unclaimed and queued when it was read: one recoverer acts
        claim = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING, queued_at=job.queued_at,
                                         requeued=job.requeued)  # queued_at=None is IS NULL
        minutes = int((now - (job.queued_at or job.created_at)).total_seconds() // 60)
        if job.requeued >= settings.WUYE_IMPORT_MAX_ATTEMPTS:
            message = (f"{LOST}。已自动重新排队 {job.requeued} 次，最近一次排队后 {minutes} 分钟仍无人处理；"
                       "请联系管理员检查后台处理服务，恢复后重新上传。")
            if _fail_claimed(claim, job, now, message, {"requeued": job.requeued, "queued_minutes": minutes}):
                counts["failed"] += 1
                logger.error("import job %s queued %s times and never claimed: marked failed", job.pk,
                             job.requeued + 1)
            continue
        if claim.update(queued_at=now, requeued=job.requeued + 1):
            counts["requeued"] += 1
            logger.warning("import job %s queued %s min ago and never claimed: queued again", job.pk, minutes)
            audit_record(actor=None, actor_label="job:estate.recover", verb="import.requeue", obj=job,
                         note=f"排队已 {minutes} 分钟无人处理，视为排队记录丢失，重新排队",
                         after={"requeued": job.requeued + 1, "queued_minutes": minutes})
            from wuye.estate.tasks import run_import

            run_import(job.pk)
    return counts


def _fail_claimed(claim, job: ImportJob, now, message: str, after: dict) -> bool:
    """Fail a job the recoverer gave up on, if ``claim`` (the job as it was read) still holds; audited."""
    if not claim.update(status=ImportJob.Status.FAILED, finished_at=now, errors=[RowError(0, "", "", message).as_dict()]):
        return False
    audit_record(actor=None, actor_label="job:estate.recover", verb="import.failed", obj=job, note=message,
                 after=after)
    return True


def scope_errors(rows: list[CleanRow], actor: User | None) -> list[RowError]:
    """Rows naming an existing project the importing user does not work in: an import never changes (or
    links parties of) another project."""
    from wuye.estate.selectors import projects_visible

    codes = {r.data["project_code"] for r in rows}
    existing = set(Project.objects.filter(code__in=codes).values_list("code", flat=True))
    if not existing or actor is None:
        return []
    allowed = set(projects_visible(actor).filter(code__in=existing).values_list("code", flat=True))
    return [RowError(r.row, KEY_TO_HEADER["project_code"], r.data["project_code"], "不在您负责的项目内")
            for r in rows if r.data["project_code"] in existing - allowed]


def purge_old_import_files(days: int = 180) -> int:
    cutoff = timezone.now() - dt.timedelta(days=days)
    count = 0
    for job in ImportJob.objects.filter(created_at__lt=cutoff).exclude(file=""):
        job.file.delete(save=False)
        job.file = ""
        job.save(update_fields=["file"])
        count += 1
    return count


# --- files we hand out ------------------------------------------------------------------------------------

def template_xlsx() -> io.BytesIO:
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "房屋与业户"
    ws.append(safe_row(c.header + ("*" if c.required else "") for c in COLUMNS))
    ws.append(safe_row(c.example for c in COLUMNS))
    for idx, c in enumerate(COLUMNS, start=1):
        cell = ws.cell(1, idx)
        cell.font = Font(bold=True, color="FFFFFF" if c.required else "000000")
        cell.fill = PatternFill("solid", fgColor="C0392B" if c.required else "D9E1F2")
        if c.help:
            cell.comment = Comment(c.help, "物业收缴")
        ws.column_dimensions[cell.column_letter].width = max(10, len(c.header) * 2 + 4)
    notes = wb.create_sheet("填写说明")
    notes.append(["列名", "必填", "说明", "示例"])
    for c in COLUMNS:
        notes.append(safe_row([c.header, "是" if c.required else "", c.help, c.example]))
    notes.append([])
    notes.append(["每行一套房屋。重复导入同一文件不会产生重复数据；任何一行有错时整个文件都不会导入，请下载错误报告修改后重新上传。"])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def error_report_xlsx(job) -> io.BytesIO:
    """The errors of an import (an ImportJob, or anything with ``errors`` such as a bank StatementImport) as a
    spreadsheet; values come from the uploaded file, so every cell goes through ``safe_row``."""
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook(write_only=False)
    ws = wb.active
    ws.title = "错误报告"
    ws.append(["行号", "列", "内容", "问题"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for e in job.errors:
        ws.append(safe_row([e["row"] or "", e["column"], e["value"], e["message"]]))
    ws.column_dimensions["D"].width = 60
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out
