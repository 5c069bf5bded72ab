"""The owner pages' Chinese strings are gettext msgids, so an English (or any) catalog can follow; the Chinese
pages read exactly as before."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import wuye

pytestmark = pytest.mark.django_db

TEMPLATES = Path(wuye.__file__).parent / "templates" / "portal"
OWNER_PAGES = ["base.html", "bill.html", "order.html", "_order_status.html", "returned.html", "refused.html"]
CJK = re.compile(r"[\u4e00-\u9fff]")  # ideographs (full-width separators such as ；may stay)
MARKED = [
    re.compile(r"{%\s*blocktranslate.*?%}.*?{%\s*endblocktranslate\s*%}", re.S),
    re.compile(r"{%\s*translate\s+(['\"]).*?\1.*?%}", re.S),
    re.compile(r"_\((['\"]).*?\1\)"),
    re.compile(r"{#.*?#}", re.S),
]


@pytest.mark.parametrize("name", OWNER_PAGES)
def test_every_chinese_string_on_the_owner_pages_is_marked_for_translation(name):
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for pattern in MARKED:
        text = pattern.sub("", text)
    left = [line.strip() for line in text.splitlines() if CJK.search(line)]
    assert left == [], f"{name}: unmarked Chinese text: {left}"


def test_the_bill_page_goes_through_gettext(client, link, monkeypatch):
    from django.utils import translation

    english = {"选择要缴的账期": "Choose the periods to pay", "缴费记录": "Payments",
               "应缴合计（截至 %(d)s）": "Total due (as of %(d)s)", "请至少选择一期要缴的费用。": "Choose at least one period."}
    translation.gettext("x")  # make sure the backend's attribute exists before patching it
    monkeypatch.setattr(translation._trans, "gettext", lambda message: english.get(message, message))
    page = client.get(link["url"]).content.decode()
    assert "Choose the periods to pay" in page and "Payments" in page and "Total due (as of 2" in page
    answer = client.post(f"{link['url']}pay/", {"provider": "wechat", "scope": "chosen"}, follow=True)
    assert "Choose at least one period." in answer.content.decode()


def test_the_chinese_bill_page_reads_as_before(client, link):
    page = client.get(link["url"]).content.decode()
    for text in ("选择要缴的账期", "默认全部缴清；取消勾选可只缴部分账期（先缴的账期先结清）。", "缴费记录", "申请分期缴纳",
                 "2 期", "本链接", "前有效，请勿转发给他人。", "物业缴费", "应缴合计（截至 20"):
        assert text in page, text
