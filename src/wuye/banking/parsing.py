"""Reading bank statement files: the built-in layouts, the column mapping, amounts, dates and fingerprints.

A mapping (saved per bank account, JSON) says which header row holds the column names (1-based, counted
as the user sees rows in Excel) and which column is the date, the amount (one signed column, or separate
credit/debit columns), payer name and account, memo (one or more columns, joined), serial and balance.
Rows below the header that are not transactions (合计, 本页小计, blank lines, a printed-at footer) are
skipped and reported as skipped; anything else that does not parse is an error naming the row and field.
The file is read within bounds by ``wuye.common.tabular.read_table``; a header with merged cells or a mapped
column named twice, a transaction row merged across columns, an amount beyond ¥9,999,999,999.99, a date
outside 1900–2100 and a serial, payer name or account longer than its database column are errors too.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from wuye.banking.models import StatementLine
from wuye.common.tabular import (
    ImportRejected,
    RowError,
    header_problems,
    merge_errors,
    normalise_header,
    read_table,
)

# --- the built-in layouts ------------------------------------------------------------------------------

LAYOUTS: dict[str, dict] = {
    "icbc_csv": {
        "label": "工行式 CSV（借方/贷方发生额、交易流水号、附言）",
        "mapping": {
            "header_row": 1, "encoding": "auto", "date": "交易日期", "date_format": "%Y-%m-%d",
            "amount": "", "credit": "贷方发生额", "debit": "借方发生额", "payer_name": "对方户名",
            "payer_account": "对方账号", "memo": ["摘要", "附言"], "serial": "交易流水号", "balance": "余额",
        },
    },
    "ccb_xlsx": {
        "label": "建行式 Excel（表头上方有标题行，收入/支出金额，无流水号）",
        "mapping": {
            "header_row": 4, "encoding": "auto", "date": "交易时间", "date_format": "%Y%m%d %H:%M:%S",
            "amount": "", "credit": "收入金额", "debit": "支出金额", "payer_name": "对方户名",
            "payer_account": "对方账号", "memo": ["摘要"], "serial": "", "balance": "账户余额",
        },
    },
    "boc_signed": {
        "label": "中行/农行式（单列带符号交易金额、用途）",
        "mapping": {
            "header_row": 1, "encoding": "auto", "date": "交易日期", "date_format": "%Y%m%d",
            "amount": "交易金额", "credit": "", "debit": "", "payer_name": "对方账户名称",
            "payer_account": "对方账号", "memo": ["用途", "备注"], "serial": "交易流水号", "balance": "",
        },
    },
}
LAYOUT_CHOICES = [(key, value["label"]) for key, value in LAYOUTS.items()]

# mapping key → Chinese name of the field, for messages
FIELD_LABELS = {
    "date": "交易日期", "amount": "交易金额", "credit": "收入（贷方）金额", "debit": "支出（借方）金额",
    "payer_name": "对方户名", "payer_account": "对方账号", "memo": "摘要/附言", "serial": "交易流水号",
    "balance": "余额",
}
MAX_HEADER_ROW = 100  # a title block above the header is a few rows; a larger number is a typing slip
TOTAL_MARKERS = ("合计", "小计", "总计", "累计", "本页", "汇总", "以下空白", "打印", "制表")


def preset_mapping(layout: str) -> dict:
    return copy.deepcopy(LAYOUTS[layout]["mapping"])


def mapping_problems(mapping: dict) -> list[str]:
    """What is wrong with a mapping (empty when usable)."""
    problems = []
    try:
        if not 1 <= int(mapping.get("header_row", 0)) <= MAX_HEADER_ROW:
            problems.append(f"表头所在行必须是 1 到 {MAX_HEADER_ROW} 之间的整数。")
    except (TypeError, ValueError):
        problems.append(f"表头所在行必须是 1 到 {MAX_HEADER_ROW} 之间的整数。")
    if not (mapping.get("date") or "").strip():
        problems.append("请指定交易日期列。")
    has_signed = bool((mapping.get("amount") or "").strip())
    has_split = bool((mapping.get("credit") or "").strip())
    if not has_signed and not has_split:
        problems.append("请指定带符号的交易金额列，或收入（贷方）金额列。")
    if has_signed and has_split:
        problems.append("交易金额列与收入/支出金额列只能二选一。")
    fmt = (mapping.get("date_format") or "").strip()
    if fmt and fmt != "auto" and "%" not in fmt:
        problems.append("日期格式应为 auto 或 strftime 格式，如 %Y-%m-%d。")
    return problems


# --- values -------------------------------------------------------------------------------------------

_AMOUNT_JUNK = re.compile(r"[\s,，￥¥]|RMB|CNY|元")
MAX_AMOUNT_FEN = 10**12 - 1  # ¥9,999,999,999.99: far beyond any fee payment, well inside BigIntegerField
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
# StatementLine columns a parsed value is stored in whole (a longer one is an error, never cut: a cut serial
# could make two transactions one); the memo is joined from several columns and cut to its column.
LENGTHS = {key: StatementLine._meta.get_field(key).max_length for key in ("serial", "payer_name", "payer_account")}
MEMO_LENGTH = StatementLine._meta.get_field("memo").max_length


def parse_amount(text: str) -> int | None:
    """'1,234.50' / '￥1234.5' / '-300.00' / '(300.00)' → fen (int); '' → None. Raises ValueError with a
    Chinese reason. Decimal only: never a float."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if raw in ("", "-", "--", "—"):
        return None
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1]
    cleaned = _AMOUNT_JUNK.sub("", raw)
    if cleaned.startswith(("+", "-")):
        negative, cleaned = negative ^ (cleaned[0] == "-"), cleaned[1:]
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", cleaned):
        raise ValueError("不是有效的金额")
    if len(cleaned.split(".")[0].lstrip("0")) > 10:
        raise ValueError(f"金额超出范围（不能超过 ¥{MAX_AMOUNT_FEN / 100:,.2f}）")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ValueError("不是有效的金额") from exc
    if "." in cleaned and len(cleaned.split(".")[1]) > 2:
        raise ValueError("金额最多两位小数")
    fen = int(value * 100)
    if fen > MAX_AMOUNT_FEN:
        raise ValueError(f"金额超出范围（不能超过 ¥{MAX_AMOUNT_FEN / 100:,.2f}）")
    return -fen if negative else fen


_DATE_CN = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(.*)$")
_DATE_SEP = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(.*))?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[ T]*(.*))?$")


def _parse_time(text: str) -> dt.time | None:
    text = (text or "").strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d{1,2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?", text)
    if not m:
        raise ValueError(text)
    return dt.time(int(m[1]), int(m[2]), int(m[3] or 0))


def parse_date(text: str, fmt: str = "auto") -> tuple[dt.date, dt.time | None]:
    """A statement date (with optional time) → (date, time), 1900–2100. Tries the mapping's format, then the
    usual ones."""
    day, time = _parse_date_any(text, fmt)
    if not DATE_MIN <= day <= DATE_MAX:
        raise ValueError(f"日期超出范围（应在 {DATE_MIN:%Y-%m-%d} 至 {DATE_MAX:%Y-%m-%d} 之间）")
    return day, time


def _parse_date_any(text: str, fmt: str) -> tuple[dt.date, dt.time | None]:
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        raise ValueError("日期为空")
    if fmt and fmt != "auto":
        try:
            value = dt.datetime.strptime(text, fmt)
            return value.date(), (value.time() if "%H" in fmt else None)
        except ValueError:
            pass
    for pattern in (_DATE_CN, _DATE_SEP, _DATE_COMPACT):
        m = pattern.match(text)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3])), _parse_time(m[4] or "")
            except ValueError:
                break
    raise ValueError("不是有效的日期")


# --- unit codes and names in free text -------------------------------------------------------------------

_SEPARATORS = re.compile(r"(号楼|栋|幢|座|单元|号房|室|号|楼|层|[\s\-－—–_/／\\、.·,，:：#＃()（）])+")
_TOKEN = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")


def _group(g: str) -> str:
    return g.lstrip("0") or "0" if g.isascii() and g.isdigit() else g


def code_key(code: str) -> str:
    """A unit code in a form that survives how people type it: 3-2-1502, ３－２－１５０２, 3栋2单元1502室,
    3/02/1502 all give '3-2-1502'."""
    text = unicodedata.normalize("NFKC", code or "").upper()
    text = _SEPARATORS.sub("-", text).strip("-")
    return "-".join(_group(g) for g in text.split("-") if g)


def memo_code_keys(memo: str) -> list[str]:
    """Every run of 1..n consecutive groups of every alphanumeric token of the memo, longest first."""
    text = _SEPARATORS.sub("-", unicodedata.normalize("NFKC", memo or "").upper())
    keys: list[str] = []
    for token in _TOKEN.findall(text):
        groups = [_group(g) for g in token.split("-") if g]
        for size in range(len(groups), 0, -1):
            for start in range(0, len(groups) - size + 1):
                keys.append("-".join(groups[start:start + size]))
    return keys


def name_key(name: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or "")).upper()


# --- the payment reference we print on notices --------------------------------------------------------------

REFERENCE_PREFIX = "JF"
_REFERENCE = re.compile(r"JF(\d{8,12})")


def _mod97(number: int) -> int:
    return 98 - (number * 100) % 97


def payment_reference(unit) -> str:
    """缴费编号 of a unit, for notices and transfer memos: 'JF' + the unit id in 8 digits + two check digits
    (ISO 7064 mod 97-10, like an IBAN: catches every single-digit error and transposition)."""
    unit_id = unit if isinstance(unit, int) else unit.pk
    return f"{REFERENCE_PREFIX}{unit_id:08d}{_mod97(unit_id):02d}"


def references_in(memo: str) -> list[int]:
    """Unit ids of the valid payment references found in ``memo``."""
    text = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", memo or "").upper())
    found = []
    for m in _REFERENCE.finditer(text):
        digits = m[1]
        unit_id, check = int(digits[:-2]), int(digits[-2:])
        if _mod97(unit_id) == check:
            found.append(unit_id)
    return found


# --- parsing a file ----------------------------------------------------------------------------------------

@dataclass
class ParsedLine:
    row_no: int
    txn_date: dt.date
    txn_time: dt.time | None
    amount_fen: int  # signed: credits positive
    payer_name: str
    payer_account: str
    memo: str
    serial: str
    balance_fen: int | None
    fingerprint: str = ""


@dataclass
class ParseResult:
    lines: list[ParsedLine] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _fingerprints(lines: list[ParsedLine]) -> None:
    """The bank's serial when present (a repeated serial in one file gets '#2', '#3'); otherwise a hash of
    date + amount + counterparty account + memo + the occurrence index of that combination in the file."""
    seen: Counter = Counter()
    for line in lines:
        if line.serial:
            seen[("S", line.serial)] += 1
            n = seen[("S", line.serial)]
            line.fingerprint = f"S:{line.serial}" + (f"#{n}" if n > 1 else "")
        else:
            key = (line.txn_date.isoformat(), str(line.amount_fen), line.payer_account, line.memo)
            seen[key] += 1
            digest = hashlib.sha256("|".join([*key, str(seen[key])]).encode()).hexdigest()[:40]
            line.fingerprint = f"H:{digest}"


def parse_statement(filename: str, raw: bytes, mapping: dict) -> ParseResult:
    """Read ``raw`` with ``mapping``. Raises ImportRejected when the file or its header cannot be used."""
    problems = mapping_problems(mapping)
    if problems:
        raise ImportRejected("列映射不完整：" + "".join(problems))
    table = read_table(filename, raw)
    header_row = int(mapping["header_row"])
    if len(table) < header_row:
        raise ImportRejected(f"文件只有 {len(table)} 行，找不到第 {header_row} 行的表头。")
    header = [normalise_header(c) for c in table[header_row - 1]]
    index = {name: i for i, name in reversed(list(enumerate(header))) if name}

    def col(name: str) -> int | None:
        return index.get(normalise_header(name)) if name else None

    result = ParseResult()
    used = {normalise_header(mapping.get(key) or "") for key in FIELD_LABELS if key != "memo"}
    used |= {normalise_header(name) for name in mapping.get("memo") or []}
    used.discard("")
    result.errors.extend(header_problems(table, header_row - 1, lambda name: name in used))
    if result.errors:
        return result
    wanted = {key: mapping.get(key) or "" for key in ("date", "amount", "credit", "debit", "payer_name",
                                                      "payer_account", "serial", "balance")}
    columns: dict[str, int | None] = {}
    for key, name in wanted.items():
        columns[key] = col(name)
        if name and columns[key] is None:
            result.errors.append(RowError(header_row, name, "", f"第 {header_row} 行（表头）缺少“{name}”列"
                                                                f"（{FIELD_LABELS[key]}）"))
    memo_cols = []
    for name in mapping.get("memo") or []:
        if col(name) is None:
            result.errors.append(RowError(header_row, name, "", f"第 {header_row} 行（表头）缺少“{name}”列"
                                                                f"（{FIELD_LABELS['memo']}）"))
        else:
            memo_cols.append(col(name))
    if result.errors:
        return result
    fmt = (mapping.get("date_format") or "auto").strip()

    def cell(row: list[str], key: str) -> str:
        i = columns.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    for offset, row in enumerate(table[header_row:], start=header_row + 1):
        if not any(c.strip() for c in row):
            continue
        joined = "".join(row)
        date_text = cell(row, "date")
        amount_texts = [cell(row, k) for k in ("amount", "credit", "debit")]
        if any(marker in joined for marker in TOTAL_MARKERS) and not _looks_like_date(date_text, fmt):
            result.skipped.append({"row": offset, "text": " ".join(c for c in row if c)[:100]})
            continue
        if not date_text and not any(amount_texts):
            result.skipped.append({"row": offset, "text": " ".join(c for c in row if c)[:100]})
            continue
        errors_before = len(result.errors)
        if table.merges:
            result.errors.extend(merge_errors(table, offset - 1, table[header_row - 1]))

        def bad(key: str, value: str, message: str, _row=offset) -> None:
            name = wanted.get(key) or FIELD_LABELS.get(key, key)
            result.errors.append(RowError(_row, name, value, f"第 {_row} 行“{name}”：{message}"))

        try:
            day, time = parse_date(date_text, fmt)
        except ValueError as exc:
            bad("date", date_text, "日期为空" if not date_text else f"{exc}（{date_text}）")
            day, time = None, None
        amount = None
        if columns["amount"] is not None:
            text = cell(row, "amount")
            try:
                amount = parse_amount(text)
                if not amount:
                    bad("amount", text, "金额为空或为零")
            except ValueError as exc:
                bad("amount", text, str(exc))
        else:
            credit_text, debit_text = cell(row, "credit"), cell(row, "debit")
            credit = debit = None
            try:
                credit = parse_amount(credit_text)
            except ValueError as exc:
                bad("credit", credit_text, str(exc))
            try:
                debit = parse_amount(debit_text)
            except ValueError as exc:
                bad("debit", debit_text, str(exc))
            if len(result.errors) == errors_before:
                if credit and debit:
                    bad("credit", credit_text, "收入和支出金额不能同时有值")
                elif credit and credit < 0 or debit and debit < 0:
                    bad("credit" if credit and credit < 0 else "debit", credit_text or debit_text,
                        "收入/支出金额不应为负数")
                elif credit:
                    amount = credit
                elif debit:
                    amount = -debit
                else:
                    bad("credit", credit_text, "收入和支出金额都为空")
        balance = None
        if columns["balance"] is not None:
            text = cell(row, "balance")
            try:
                balance = parse_amount(text)
            except ValueError as exc:
                bad("balance", text, str(exc))
        texts = {"serial": cell(row, "serial"), "payer_name": cell(row, "payer_name"),
                 "payer_account": re.sub(r"\s+", "", cell(row, "payer_account"))}
        for key, limit in LENGTHS.items():
            if len(texts[key]) > limit:
                bad(key, texts[key][:50] + "…", f"长度不能超过 {limit} 个字符（现有 {len(texts[key])} 个）")
        if len(result.errors) > errors_before or day is None or amount is None:
            continue
        memo = " ".join(row[i].strip() for i in memo_cols if i < len(row) and row[i].strip())
        result.lines.append(ParsedLine(
            row_no=offset, txn_date=day, txn_time=time, amount_fen=amount, payer_name=texts["payer_name"],
            payer_account=texts["payer_account"], memo=memo[:MEMO_LENGTH], serial=texts["serial"],
            balance_fen=balance))
    if not result.errors and not result.lines:
        result.errors.append(RowError(header_row + 1, "", "", f"第 {header_row} 行表头下方没有交易行"))
    _fingerprints(result.lines)
    return result


def _looks_like_date(text: str, fmt: str) -> bool:
    try:
        parse_date(text, fmt)
        return True
    except ValueError:
        return False


# --- choosing the mapping from a sample file (issue 17 item 6) ---------------------------------------------------

# Date formats offered by example: the person picks what their file's dates look like, never a strftime code.
DATE_FORMATS = [
    ("auto", "自动识别（推荐）"),
    ("%Y-%m-%d", "2026-07-20"),
    ("%Y/%m/%d", "2026/07/20"),
    ("%Y%m%d", "20260720"),
    ("%Y-%m-%d %H:%M:%S", "2026-07-20 14:05:09"),
    ("%Y%m%d %H:%M:%S", "20260720 14:05:09"),
    ("%Y%m%d%H%M%S", "20260720140509"),
    ("%Y年%m月%d日", "2026年07月20日"),
    ("%d/%m/%Y", "20/07/2026"),
]


@dataclass
class SampleColumn:
    """A column of an uploaded sample: its header and the first few values under it."""

    name: str
    examples: list[str]

    @property
    def label(self) -> str:
        shown = "、".join(e for e in self.examples if e)[:60]
        return f"{self.name}（例：{shown}）" if shown else f"{self.name}（空列）"


def sample_columns(table, header_row: int, *, examples: int = 3) -> list[SampleColumn]:
    """The header at ``header_row`` (1-based) with example values from the rows below it (totals skipped)."""
    if not 1 <= header_row <= len(table):
        return []
    header = table[header_row - 1]
    body = [r for r in table[header_row:header_row + 30]
            if any((c or "").strip() for c in r) and not any(m in "".join(r) for m in TOTAL_MARKERS)]
    cols = []
    for i, name in enumerate(header):
        name = (name or "").strip()
        if not name:
            continue
        values = [(row[i] if i < len(row) else "").strip() for row in body]
        cols.append(SampleColumn(name=name, examples=[v for v in values if v][:examples]))
    return cols


def guess_header_row(table) -> int:
    """The first of the widest rows near the top: a title block or a query range sits above the header and
    is narrower than it; data rows below are at most as wide."""
    counts = [sum(1 for c in row if (c or "").strip()) for row in table[:20]]
    if not counts or max(counts) == 0:
        return 1
    return counts.index(max(counts)) + 1


def date_format_options(values: list[str]) -> list[tuple[str, str, bool]]:
    """(format, what the person sees, fits) for each offered format: the sample's own first date as that
    format reads it (「20260720 → 2026年7月20日」), or the example shape when it does not read it."""
    out = []
    first = next((v for v in values if v), "")
    for fmt, example in DATE_FORMATS:
        if not first:
            out.append((fmt, example, fmt == "auto"))
            continue
        try:
            if fmt == "auto":
                day, _ = parse_date(first, "auto")
            else:
                day = dt.datetime.strptime(unicodedata.normalize("NFKC", first).strip(), fmt).date()
            ok = all(_fits(v, fmt) for v in values if v)
        except ValueError:
            out.append((fmt, f"{example}（与文件不符）", False))
            continue
        words = f"{first} → {day.year}年{day.month}月{day.day}日"
        out.append((fmt, f"{example}：{words}" if fmt != "auto" else f"自动识别：{words}", ok))
    return out


def _fits(text: str, fmt: str) -> bool:
    try:
        if fmt == "auto":
            parse_date(text, "auto")
        else:
            dt.datetime.strptime(unicodedata.normalize("NFKC", text).strip(), fmt)
    except ValueError:
        return False
    return True
