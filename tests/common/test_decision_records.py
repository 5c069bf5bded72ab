"""docs/decisions.md is read by number (code and other documents cite "decision 74"): its entries stand in
ascending order, each number once, so a reader finds an entry where its number says it is."""

from __future__ import annotations

import re
from pathlib import Path

DECISIONS = Path(__file__).resolve().parents[2] / "docs" / "decisions.md"


def test_decision_records_are_numbered_once_and_in_ascending_order():
    numbers = [int(m.group(1)) for m in re.finditer(r"^(\d+)\. \*\*", DECISIONS.read_text(encoding="utf-8"), re.M)]
    assert numbers, "no entries found"
    assert len(numbers) == len(set(numbers)), sorted(n for n in set(numbers) if numbers.count(n) > 1)
    out_of_order = [(a, b) for a, b in zip(numbers, numbers[1:], strict=False) if b < a]
    assert not out_of_order, f"entries out of order (an entry, then a lower number after it): {out_of_order}"
