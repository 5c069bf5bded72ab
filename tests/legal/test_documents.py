"""Document drafts: our own wording as editable templates, PDF and DOCX, the court-likely late fee, time-barred
periods left out of court papers (a lawyer's letter may still name them), never sent as a law firm."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError

from tests.legal.conftest import referral_for
from wuye.legal import services
from wuye.legal.documents import DRAFT_NOTE, draft, draft_docx, draft_pdf

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def case(arrears_estate, carol):
    return services.case_open_from_referral(actor=carol, task=referral_for(arrears_estate["units"][0]), on=TODAY)


def _docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_payment_order_draft_claims_principal_and_the_court_figure(case):
    d = draft(case, "payment_order", as_of=TODAY)
    text = "\n".join(d.paragraphs)
    assert "支付令申请书" in d.title and "业主001" in text and "2026年1月至2026年7月" in text
    assert "¥1,253.00" in text  # 7 × ¥179.00
    court = case.court_late_fee_fen
    assert d.rows[-1][5] == f"¥{court / 100:,.2f}" and d.total_fen == 125_300 + court
    assert "第二百二十五条" in text and "＿＿＿＿人民法院" in text


def test_barred_periods_are_left_out_of_court_papers_and_named_in_a_note(case):
    from wuye.legal.models import CaseLine

    later = D(2029, 2, 1)  # January's clock (to 2029-01-16) has run out, February's (2029-02-16) has not
    CaseLine.objects.filter(case=case)  # frozen lines stay as they were
    d = draft(case, "complaint", as_of=later)
    periods = [r[0] for r in d.rows[1:-1]]
    assert "2026-01" not in periods and "2026-02" in periods and d.barred == ["2026-01"]
    assert any("2026年1月的费用已超过诉讼时效" in p and "不予主张" in p for p in d.paragraphs)
    letter = draft(case, "lawyer_letter", as_of=later)
    assert [r[0] for r in letter.rows[1:-1]][0] == "2026-01" and letter.rows[1][6] == "已过时效"


def test_no_late_fee_without_a_contract_clause(case):
    from wuye.billing.models import BillingPolicy

    BillingPolicy.objects.filter(project=case.project).update(late_fee_per_mille=0)
    d = draft(case, "complaint", as_of=TODAY)
    assert any("合同未约定违约金，不主张" in p for p in d.paragraphs) and d.total_fen == 125_300


def test_pdf_and_docx_carry_the_same_text(case):
    d = draft(case, "lawyer_letter", as_of=TODAY)
    pdf = draft_pdf(d)
    assert pdf.startswith(b"%PDF")
    text = _docx_text(draft_docx(d))
    assert DRAFT_NOTE in text and "业主001" in text and "¥1,253.00" in text and "2026-07" in text
    assert "＿＿＿＿律师事务所受" in text  # the firm fills in its own name; the system never does


def test_templates_are_editable_versioned_and_checked(case, carol):
    tpl = services.template_save(actor=carol, kind="complaint", title="民事起诉状（草稿）",
                                 body="原告：{creditor}\n被告：{debtor}\n请求支付{principal}。")
    assert tpl.version == 1
    d = draft(case, "complaint", as_of=TODAY)
    assert d.paragraphs[:3] == ["原告：" + d.paragraphs[0][3:], "被告：业主001", "请求支付¥1,253.00。"]
    with pytest.raises(ValidationError, match="停水"):
        services.template_save(actor=carol, kind="complaint", title="x", body="否则停水停电")
    with pytest.raises(ValidationError, match="未知的占位符"):
        services.template_save(actor=carol, kind="complaint", title="x", body="{nonsense}")
    tpl.refresh_from_db()
    assert tpl.version == 1


def test_a_debtor_name_with_markup_characters_is_printed_as_written(case, tmp_path):
    """A "<" in the debtor's name stopped the draft (reportlab reads a paragraph as markup); it prints as
    stored, in the draft and in the evidence pack's own pages."""
    from tests.billing.test_documents import pdf_text
    from wuye.estate.models import Party

    Party.objects.filter(pk=case.party_id).update(name="业主<b>甲 &lt;乙&gt;")
    case.refresh_from_db()
    text = " ".join(pdf_text(draft_pdf(draft(case, "lawyer_letter", as_of=TODAY)), tmp_path).split())
    assert "业主<b>甲 &lt;乙&gt;" in text


@pytest.mark.parametrize("body", [
    "逾期将停\u200b水",  # a zero-width space inside the word
    "逾期将停電",  # traditional characters
    "逾期将在小区公告栏张贴欠费名单",  # public naming the old list missed
    "逾期将暂停对贵单元的物业服务",  # withholding the company's services
    "我们将限制您的车辆进出",
], ids=["zero-width", "traditional", "posting", "withholding", "vehicles"])
def test_the_draft_wording_is_checked_like_every_message_text(carol, body):
    """Decision 188: the drafts' own list read the text with only spaces removed, so 停\u200b水, 停電 or a posted
    arrears list passed; the shared checker's normalised reading and categories now apply (a lawyer-letter draft
    may still use a firm's wording: 特此函告)."""
    with pytest.raises(ValidationError):
        services.template_save(actor=carol, kind="complaint", title="民事起诉状（草稿）", body=body)
    services.template_save(actor=carol, kind="lawyer_letter", title="律师函（草稿）", body="致：{debtor}\n特此函告。")


def test_every_door_to_a_template_checks_its_wording(carol, tmp_path):
    """The model's save (admin, shell, a service that forgets) and ``loaddata``'s raw save refuse what the page
    refuses; the shipped defaults pass."""
    import json

    from django.core.management import call_command

    from wuye.legal.documents import DEFAULTS
    from wuye.legal.models import DocumentTemplate

    for kind, (title, body) in DEFAULTS.items():
        DocumentTemplate(kind=kind, title=title, body=body).wording_check()
    with pytest.raises(ValidationError, match="停水"):
        DocumentTemplate.objects.create(kind="complaint", title="x", body="否则停水停电")
    ok = DocumentTemplate.objects.create(kind="complaint", title="民事起诉状（草稿）", body="被告：{debtor}")
    ok.body = "逾期将在业主群公示"
    with pytest.raises(ValidationError, match="公示"):
        ok.save()
    fixture = tmp_path / "templates.json"
    fixture.write_text(json.dumps([{"model": "legal.documenttemplate", "pk": 99, "fields": {
        "kind": "payment_order", "title": "支付令申请书", "body": "否则纳入征信", "version": 1,
        "updated_at": "2026-12-01T00:00:00Z"}}], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValidationError, match="征信"):
        call_command("loaddata", str(fixture), verbosity=0)
    assert not DocumentTemplate.objects.filter(pk=99).exists()
