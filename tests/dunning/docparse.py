"""Reading printed collection documents back (pdftotext -layout) to check their figures: the itemised rows,
the 合计 row, 应缴合计 with its capitals, and the capitals turned back into fen.

Works on the notice / registered letter pages, the referral draft and the statement, old layout or new: a row
is a line that starts with a period (``2026-03``, not a date) and carries amounts; the 合计 row is the first
line starting with 合计 after the rows; amounts are compared column by column from the right, so a 合计 row
that leaves the first columns empty still lines up.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MONEY = re.compile(r"(-?)¥([\d,]+)\.(\d{2})")
ROW = re.compile(r"^\s*(\d{4}-\d{2})(?!-)\s+(\S+)(.*)$")
DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")
TOTAL = re.compile(r"(应缴合计|欠费合计|欠费本金)[：\s]*(¥[\d,]+\.\d{2})[（(]((?:人民币)*)([^）)]*)[）)]")
STATEMENT_TOTAL = re.compile(r"已到期应缴(¥[\d,]+\.\d{2})大写((?:人民币)*)([零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整负]+)")


def fen(text: str) -> int:
    m = MONEY.search(text)
    if not m:
        raise ValueError(text)
    value = int(m.group(2).replace(",", "")) * 100 + int(m.group(3))
    return -value if m.group(1) else value


def amounts(text: str) -> list[int]:
    return [fen(m.group(0)) for m in MONEY.finditer(text)]


def pdf_text(raw: bytes, tmp_path: Path, name: str = "doc.pdf") -> str:
    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    path = Path(tmp_path) / name
    path.write_bytes(raw)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_SMALL = {"拾": 10, "佰": 100, "仟": 1000}


def _section(words: str) -> int:
    """Up to 9999: 壹仟零贰拾 → 1020."""
    total, digit = 0, 0
    for ch in words:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _SMALL:
            total += (digit or 1) * _SMALL[ch]
            digit = 0
    return total + digit


def upper_to_fen(text: str) -> int:
    """人民币壹仟贰佰叁拾肆元伍角整 → 123450 (the inverse of ``common.formatting.rmb_upper``)."""
    words = text.strip()
    if words.startswith("人民币"):
        words = words[3:]
    sign = 1
    if words.startswith("负"):
        sign, words = -1, words[1:]
    yuan_words, _, rest = words.partition("元") if "元" in words else ("", "", words)
    yuan = 0
    for big, mult in (("亿", 100_000_000), ("万", 10_000)):
        if big in yuan_words:
            head, _, yuan_words = yuan_words.partition(big)
            yuan += _section(head) * mult
    yuan += _section(yuan_words)
    jiao = cents = 0
    m = re.search(r"([零壹贰叁肆伍陆柒捌玖])角", rest)
    if m:
        jiao = _DIGITS[m.group(1)]
    m = re.search(r"([零壹贰叁肆伍陆柒捌玖])分", rest)
    if m:
        cents = _DIGITS[m.group(1)]
    return sign * (yuan * 100 + jiao * 10 + cents)


@dataclass
class Row:
    period: str
    item: str
    dates: list[str]
    amounts: list[int]


@dataclass
class Page:
    text: str
    rows: list[Row] = field(default_factory=list)
    total_row: list[int] = field(default_factory=list)
    total_fen: int | None = None
    upper: str = ""
    prefixes: int = 0  # how many times 人民币 stands before the capitals

    @property
    def periods(self) -> list[str]:
        return sorted({r.period for r in self.rows})

    @property
    def flat(self) -> str:
        return re.sub(r"\s+", "", self.text)

    def columns_add_up(self) -> list[str]:
        """Problems: for each column of the 合计 row (from the right), the rows' amounts in that column do not
        sum to it."""
        problems = []
        width = len(self.total_row)
        for k in range(1, width + 1):
            column = [r.amounts[-k] for r in self.rows if len(r.amounts) >= k]
            if len(column) != len(self.rows):
                problems.append(f"column -{k}: some rows lack it")
            elif sum(column) != self.total_row[-k]:
                problems.append(f"column -{k}: rows sum to {sum(column)}, 合计 says {self.total_row[-k]}")
        return problems


def parse_page(text: str) -> Page:
    """One printed demand page (or a referral / statement) as text."""
    page = Page(text)
    lines = text.splitlines()
    seen_rows = False
    for line in lines:
        m = ROW.match(line)
        if m and "：" not in line and "×" not in line and MONEY.search(line):
            rest = m.group(3)
            page.rows.append(Row(m.group(1), m.group(2), DATE.findall(rest), amounts(rest)))
            seen_rows = True
            continue
        if seen_rows and line.strip().startswith("合计") and not page.total_row:
            page.total_row = amounts(line)
    flat = page.flat
    m = TOTAL.search(flat)
    if m:
        page.total_fen = fen(m.group(2))
        page.upper = "人民币" + m.group(4)
        page.prefixes = len(m.group(3)) // 3
    else:
        m = STATEMENT_TOTAL.search(flat)
        if m:
            page.total_fen = fen(m.group(1))
            page.upper = "人民币" + m.group(3)
            page.prefixes = len(m.group(2)) // 3
    return page


def parse_pages(text: str) -> list[Page]:
    """A batch PDF's pages (pdftotext separates them with a form feed)."""
    return [parse_page(t) for t in text.split("\f") if t.strip()]
