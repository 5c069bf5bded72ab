"""Template rendering: placeholders, optional bracketed parts, and the shipped templates without a phone."""

import pytest

from wuye.dunning.defaults import TEMPLATES
from wuye.dunning.dispatch import render

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only


def test_optional_part_dropped_when_its_placeholder_is_empty():
    text = "请于 {deadline} 前缴纳。[咨询 {phone}。]{pay_link}"
    assert render(text, {"deadline": "2026年12月10日", "phone": ""}) == "请于 2026年12月10日 前缴纳。"
    assert render(text, {"deadline": "2026年12月10日", "phone": "0571-88886666"}) == (
        "请于 2026年12月10日 前缴纳。咨询 0571-88886666。")


def test_brackets_without_placeholders_and_stray_braces_are_left_as_written():
    assert render("[重要] {unit} 请缴费", {"unit": "1-101"}) == "[重要] 1-101 请缴费"
    assert render("金额 {amount", {"amount": "¥1.00"}) == "金额 {amount"


@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_shipped_templates_read_well_without_a_service_phone(code):
    _name, _channel, subject, body = TEMPLATES[code]
    context = {"company": "某物业", "unit": "阳光苑1-101", "amount": "¥300.00", "months": 2,
               "oldest_due": "2026年10月15日", "deadline": "2026年12月10日", "phone": "", "due_date": "",
               "amount_due": "¥150.00", "today": "2026年12月1日", "promise_date": "", "pay_link": ""}
    out = render(body, context)
    assert "致电 。" not in out and "咨询 。" not in out and "[" not in out
