"""Issue 17 item 8: error pages in Chinese with a way back, and no raw keys on pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import RequestFactory

from wuye.accounts.choices import Role
from wuye.accounts.services import audit_record
from wuye.common.labels import VERB_LABELS, actor_label, verb_label

SRC = Path(__file__).resolve().parents[1] / "src" / "wuye"
ENGLISH = ("Forbidden", "Not Found", "No Unit matches", "Server Error", "CSRF")


def _no_english(html: str) -> None:
    for word in ENGLISH:
        assert word not in html


def test_a_collector_on_the_approvals_page_reads_who_can_do_it_in_chinese(client, bob):
    client.force_login(bob)
    r = client.get("/casework/desk/approvals/", HTTP_REFERER="http://testserver/casework/")
    assert r.status_code == 403
    html = r.content.decode()
    _no_english(html)
    assert "只有经理可以审批" in html and "收费员" in html
    assert 'href="http://testserver/casework/"' in html and "回到我的工作首页" in html
    assert 'name="viewport"' in html and "wuye/errors.css" in html  # a file: the CSP allows no inline style
    from django.contrib.staticfiles import finders

    assert "min-height: 44px" in open(finders.find("wuye/errors.css"), encoding="utf-8").read()


def test_a_missing_unit_says_so_in_chinese_without_djangos_message(client, alice, estate):
    client.force_login(alice)
    r = client.get("/estate/units/999999/")
    assert r.status_code == 404
    html = r.content.decode()
    _no_english(html)
    assert "找不到" in html and "回到我的工作首页" in html


def test_an_unknown_address_for_an_owner_leads_back_to_the_owner_login(client, db):
    r = client.get("/p/login/nothing/here/")
    assert r.status_code == 404
    assert "回到业主登录" in r.content.decode() and "/p/login/" in r.content.decode()


def test_the_server_error_page_is_chinese_and_needs_no_context(db):
    from wuye import urls
    from wuye.errors import server_error

    assert urls.handler500 == "wuye.errors.server_error"
    r = server_error(RequestFactory().get("/billing/runs/"))
    assert r.status_code == 500
    html = r.content.decode()
    _no_english(html)
    assert "系统暂时出了问题" in html and 'href="/"' in html


def test_a_stale_form_gets_the_chinese_403(client, alice):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    r = csrf_client.post("/billing/runs/", {"period": "2026-01"})
    assert r.status_code == 403
    html = r.content.decode()
    _no_english(html)
    assert "页面已过期" in html


def test_every_audit_verb_written_by_the_code_has_a_chinese_label():
    verbs = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        verbs |= set(re.findall(r'verb="([a-z_.]+)"', text)) | set(re.findall(r'verb="[a-z_.]+" if \w+ else "([a-z_.]+)"', text))
    assert verbs, "the scan found no verbs"
    assert sorted(verbs - set(VERB_LABELS)) == []
    assert verb_label("legal.something_new") == "法务操作"
    assert verb_label("x.y") == "系统操作"


@pytest.mark.parametrize(("raw", "words"), [
    ("job:demo", "系统（演示数据）"), ("seed", "系统（演示数据）"), ("user:li", "li"),
    ("portal:sms:12", "业主（短信登录）"), ("job:anything", "系统任务"), ("", "系统"), ("张三", "张三"),
])
def test_who_acted_is_said_in_words(raw, words):
    assert actor_label(raw) == words


def test_the_audit_log_and_the_unit_history_show_words_not_keys(client, make_user, alice, estate):
    admin = make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)
    unit = estate["units"][0]
    audit_record(actor=None, actor_label="job:demo", verb="dunning.task_done", obj=unit, note="")
    client.force_login(admin)
    for url in ("/audit/", f"/estate/units/{unit.pk}/"):
        html = client.get(url).content.decode()
        assert "完成催缴任务" in html and "系统（演示数据）" in html, url
        text = re.sub(r"<[^>]+>", " ", html)  # visible text only (the key may stay in a title attribute)
        assert "job:demo" not in text and "dunning.task_done" not in text, url
