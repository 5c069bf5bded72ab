"""Document templates per project (decision 201): a project's legal officer changes the wording of that project's
drafts only; the company-wide wording is changed only by someone who works across the company; the wording rules
hold for a project's version at every door; the page shows which version applies where."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.legal.conftest import referral_for
from wuye.legal import services
from wuye.legal.documents import draft

D = dt.date
TODAY = D(2026, 12, 4)
A_TEXT = "原告：{creditor}\n被告：{debtor}\n本项目专用措辞：请求支付{principal}。"


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def two(arrears_estate, carol, make_user):
    """Project A (the test estate's buildings 1 and 3) and project B (building 2, moved there with its units and
    bills), a case in each, and one legal officer per project; carol works across the company."""
    from wuye.billing.models import Bill, BillingPolicy
    from wuye.estate.models import Building, Project, Unit

    a = arrears_estate["project"]
    b = Project.objects.create(code="T2", name="乙苑", city="杭州", developer=a.developer)
    moved = arrears_estate["buildings"][1]
    Building.objects.filter(pk=moved.pk).update(project=b)
    Unit.objects.filter(building=moved).update(project=b)
    Bill.objects.filter(unit__building=moved).update(project=b)
    policy = BillingPolicy.objects.get(project=a)
    BillingPolicy.objects.create(project=b, due_day=policy.due_day, late_fee_per_mille=policy.late_fee_per_mille)
    unit_a = arrears_estate["units"][0]
    unit_b = Unit.objects.filter(building=moved).order_by("pk").first()
    case_a = services.case_open_from_referral(actor=carol, task=referral_for(unit_a), on=TODAY)
    case_b = services.case_open_from_referral(actor=carol, task=referral_for(unit_b), on=TODAY)
    officer_a, officer_b = make_user("fawu_a", "legal"), make_user("fawu_b", "legal")
    officer_a.projects.set([a])
    officer_b.projects.set([b])
    assert case_b.project == b and case_a.project == a
    return {"a": a, "b": b, "case_a": case_a, "case_b": case_b, "officer_a": officer_a, "officer_b": officer_b}


def _text(case, kind="complaint") -> str:
    return "\n".join(draft(case, kind, as_of=TODAY).paragraphs)


def test_a_projects_officer_changes_only_that_projects_drafts(two, carol):
    before_b = _text(two["case_b"])
    tpl = services.template_save(actor=two["officer_a"], kind="complaint", title="民事起诉状（草稿）", body=A_TEXT,
                                 project=two["a"])
    assert tpl.project == two["a"] and tpl.version == 1
    assert "本项目专用措辞" in _text(two["case_a"])
    assert _text(two["case_b"]) == before_b and "本项目专用措辞" not in before_b
    # the company-wide wording changes later: B follows it, A keeps its own
    services.template_save(actor=carol, kind="complaint", title="民事起诉状（草稿）",
                           body="原告：{creditor}\n被告：{debtor}\n公司通用新措辞{principal}。")
    assert "公司通用新措辞" in _text(two["case_b"]) and "公司通用新措辞" not in _text(two["case_a"])
    mine, theirs = draft(two["case_a"], "complaint", as_of=TODAY), draft(two["case_b"], "complaint", as_of=TODAY)
    assert (mine.version, mine.project_version, theirs.version, theirs.project_version) == (1, True, 1, False)
    # dropping A's version hands A back to the company-wide wording
    assert services.template_drop(actor=two["officer_a"], kind="complaint", project=two["a"]) is True
    assert "公司通用新措辞" in _text(two["case_a"])


def test_a_first_project_version_starts_from_what_the_project_used(two, carol):
    """The audit record of a project's first version shows the company-wide text it replaced."""
    from wuye.accounts.models import AuditEvent

    services.template_save(actor=carol, kind="complaint", title="公司起诉状", body="被告：{debtor}")
    services.template_save(actor=two["officer_a"], kind="complaint", title="甲起诉状", body=A_TEXT, project=two["a"])
    event = AuditEvent.objects.filter(verb="legal.template").order_by("-pk").first()
    assert event.project_id == two["a"].pk and event.actor == two["officer_a"]
    assert "公司起诉状" in json.dumps(event.before, ensure_ascii=False)


def test_scope_is_checked_by_the_service(two, carol):
    officer_a = two["officer_a"]
    with pytest.raises(PermissionDenied, match="不能修改公司通用模板"):
        services.template_save(actor=officer_a, kind="complaint", title="起诉状", body="被告：{debtor}")
    with pytest.raises(PermissionDenied, match="您不负责项目“乙苑”"):
        services.template_save(actor=officer_a, kind="complaint", title="起诉状", body="被告：{debtor}",
                               project=two["b"])
    services.template_save(actor=two["officer_b"], kind="complaint", title="起诉状", body="被告：{debtor}",
                           project=two["b"])
    with pytest.raises(PermissionDenied, match="您不负责项目“乙苑”"):
        services.template_drop(actor=officer_a, kind="complaint", project=two["b"])
    from wuye.legal.models import DocumentTemplate

    assert list(DocumentTemplate.objects.values_list("project_id", flat=True)) == [two["b"].pk]
    # company-wide staff may edit any project's version too
    services.template_save(actor=carol, kind="complaint", title="起诉状", body="被告：{debtor}。", project=two["b"])


def test_the_page_refuses_out_of_scope_edits_in_chinese_and_shows_where_each_version_applies(two, client):
    from wuye.legal.models import DocumentTemplate

    client.force_login(two["officer_a"])
    page = client.get("/legal/templates/?kind=complaint").content.decode()
    assert f'<option value="{two["a"].pk}" selected' in page  # a project officer lands on their project
    assert f'value="{two["b"].pk}"' not in page  # and is not offered B
    r = client.post("/legal/templates/", {"kind": "complaint", "project": "", "title": "起诉状",
                                          "body": "被告：{debtor}"}, follow=True)
    assert "不能修改公司通用模板" in r.content.decode() and not DocumentTemplate.objects.exists()
    r = client.post("/legal/templates/", {"kind": "complaint", "project": two["b"].pk, "title": "起诉状",
                                          "body": "被告：{debtor}"})
    assert r.status_code == 404 and not DocumentTemplate.objects.exists()
    r = client.post("/legal/templates/", {"kind": "complaint", "project": two["a"].pk, "title": "起诉状",
                                          "body": "被告：{debtor}\n甲苑专用"}, follow=True)
    assert "项目模板已保存" in r.content.decode()
    assert DocumentTemplate.objects.get().project == two["a"]
    # the company-wide tab is read-only for them, with the reason
    page = client.get("/legal/templates/?kind=complaint&project=").content.decode()
    assert "不能修改公司通用模板" in page and "保存公司通用模板" not in page and "disabled" in page
    applies = page.split('id="tpl-applies"')[1].split("</ul>")[0]
    assert "公司通用：系统默认文本" in applies and f"{two['a'].name}：项目模板 v1" in applies
    # B's officer sees B using the company-wide version, and nothing of A
    client.force_login(two["officer_b"])
    page = client.get("/legal/templates/?kind=complaint").content.decode()
    applies = page.split('id="tpl-applies"')[1].split("</ul>")[0]
    assert "其余 1 个项目使用公司通用版本" in applies and two["a"].name not in applies
    assert "甲苑专用" not in page


def test_the_wording_rules_hold_for_a_projects_version_at_every_door(two, tmp_path):
    from django.core.management import call_command

    from wuye.legal.models import DocumentTemplate

    with pytest.raises(ValidationError, match="停水"):
        services.template_save(actor=two["officer_a"], kind="complaint", title="起诉状", body="否则停\u200b水",
                               project=two["a"])
    with pytest.raises(ValidationError, match="停水"):
        DocumentTemplate.objects.create(kind="complaint", project=two["a"], title="x", body="否则停水停电")
    fixture = tmp_path / "t.json"
    fixture.write_text(json.dumps([{"model": "legal.documenttemplate", "pk": 77, "fields": {
        "kind": "payment_order", "project": two["b"].pk, "title": "支付令申请书", "body": "否则纳入征信",
        "version": 1, "updated_at": "2026-12-01T00:00:00Z"}}], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValidationError, match="征信"):
        call_command("loaddata", str(fixture), verbosity=0)
    assert not DocumentTemplate.objects.exists()


def test_one_version_per_project_and_one_company_wide(two):
    from django.db import IntegrityError, transaction

    from wuye.legal.models import DocumentTemplate

    DocumentTemplate.objects.create(kind="complaint", title="起诉状", body="被告：{debtor}")
    DocumentTemplate.objects.create(kind="complaint", project=two["a"], title="起诉状", body="被告：{debtor}")
    for project in (None, two["a"]):
        with pytest.raises(IntegrityError), transaction.atomic():
            DocumentTemplate.objects.create(kind="complaint", project=project, title="起诉状", body="被告：{debtor}")


def test_templates_have_no_admin_door():
    """The admin would let a project officer edit the company-wide wording without the scope check: the model is
    deliberately not registered (register it only with ``require_template_scope`` in its save)."""
    from django.contrib import admin

    from wuye.legal.models import DocumentTemplate

    assert DocumentTemplate not in admin.site._registry
