"""Issue 13 items 4 and 5: every printed figure reconciles, and no 违约金 without a late-fee clause — one regression
test per reported defect, on the documents as printed (pdftotext) and the texts as sent."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client

from tests.dunning.docparse import parse_page, parse_pages, pdf_text, upper_to_fen
from wuye.billing.figures import demand_figures, demand_figures_many
from wuye.billing.models import Bill, BillingPolicy
from wuye.billing.services import bill_generate, late_fee_post, payment_record
from wuye.common.formatting import format_yuan, rmb_upper
from wuye.dunning import cycles, wording
from wuye.dunning.defaults import policies_install_defaults
from wuye.dunning.models import Action, ActionEvent, Episode, MessageTemplate, Step, Task
from wuye.dunning.notices import Settled, notices_pdf, referral_draft_pdf
from wuye.estate.selectors import liable_party

from .conftest import CST, dispatch_on

D = dt.date


def step_of(project, code: str) -> Step:
    """The project's ladder step that uses the shipped template ``code`` (added to its first ladder when that
    ladder has none: office notices on a residential estate)."""
    policies_install_defaults(project)
    step = (Step.objects.filter(policy__project=project, policy__active=True, template__code=code)
            .select_related("template").order_by("policy__segment", "pk").first())
    if step is None:
        template = MessageTemplate.objects.get(project=None, code=code)
        policy = project.dunning_policies.filter(active=True).order_by("segment", "pk").first()
        step = Step.objects.create(policy=policy, order=45, name=template.name, kind="overdue", days=1,
                                   channel=template.channel, template=template, assignee="collector")
    return step


def make_action(unit, code: str, on: dt.date, *, party=None, periods=()) -> Action:
    """An action of the ladder step using template ``code`` for the unit's debtor, decided on ``on`` (what the
    daily run writes)."""
    step = step_of(unit.project, code)
    party = party or liable_party(unit, on)
    episode = (Episode.objects.filter(unit=unit, party=party, closed_on__isnull=True).first()
               or Episode.objects.create(project=unit.project, unit=unit, party=party, opened_on=on, first_due=on))
    return Action.objects.create(
        project=unit.project, unit=unit, party=party, step=step,
        cycle=cycles.stage(cycles.Episode(episode.opened_on, party.pk)),
        episode=episode, decided_on=on, channel=step.channel, stage=step.order, periods=list(periods),
        not_before=dt.datetime(on.year, on.month, on.day, 8, 0, tzinfo=CST), out_id=uuid.uuid4().hex[:32])


def reload(action: Action) -> Action:
    return Action.objects.select_related("unit__project", "step__template").get(pk=action.pk)


@pytest.fixture
def charged(alice, arrears_estate):
    """Unit 1-101 owing January–July; a manager charged the late fee accrued to 31 May (unpaid)."""
    unit = arrears_estate["units"][0]
    late_fee_post(actor=alice, unit=unit, as_of=D(2026, 5, 31), reason="经理计收")
    return unit


# --- item 4: the reported defects --------------------------------------------------------------------------

def test_the_notices_late_fee_total_agrees_with_its_lines(charged, tmp_path):
    action = make_action(charged, "notice_2", D(2026, 7, 20))
    page = parse_page(pdf_text(notices_pdf([reload(action)], as_of=D(2026, 7, 20)), tmp_path))
    assert len(page.rows) == 7 and page.total_row
    assert page.columns_add_up() == []


def test_the_total_to_pay_includes_a_charged_unpaid_late_fee(charged, tmp_path):
    as_of = D(2026, 7, 20)
    lines = Bill.objects.filter(unit=charged, is_void=False)
    principal = sum(b.open_fen for b in lines if b.late_fee_of_id is None and b.due_date < as_of)
    fees = sum(b.open_fen for b in lines if b.late_fee_of_id is not None)
    assert fees > 0
    action = make_action(charged, "notice_2", as_of)
    page = parse_page(pdf_text(notices_pdf([reload(action)], as_of=as_of), tmp_path))
    assert page.total_fen == principal + fees
    assert upper_to_fen(page.upper) == principal + fees
    fig = demand_figures(charged.pk, liable_party(charged, as_of).pk, as_of)
    assert (fig.principal_fen, fig.late_fee_charged_fen, fig.total_fen) == (principal, fees, principal + fees)


def test_no_document_prints_renminbi_twice(alice, charged, tmp_path):
    as_of = D(2026, 7, 20)
    notice = parse_page(pdf_text(notices_pdf([reload(make_action(charged, "registered_letter", as_of))],
                                             as_of=as_of), tmp_path, "n.pdf"))
    referral = parse_page(pdf_text(referral_draft_pdf(reload(make_action(charged, "referral", as_of)), as_of=as_of),
                                   tmp_path, "r.pdf"))
    for page in (notice, referral):
        assert "人民币人民币" not in page.flat
        assert page.prefixes == 1 and upper_to_fen(page.upper) == page.total_fen
    assert rmb_upper(123450).count("人民币") == 1


def test_the_referral_counts_no_line_not_yet_due(alice, arrears_estate, tmp_path):
    unit = arrears_estate["units"][0]
    bill_generate(actor=alice, project=unit.project, period=D(2026, 8, 1))  # due 15 August
    as_of = D(2026, 8, 10)
    matured = sum(b.amount_fen for b in Bill.objects.filter(unit=unit, due_date__lt=as_of))
    page = parse_page(pdf_text(referral_draft_pdf(reload(make_action(unit, "referral", as_of)), as_of=as_of),
                               tmp_path))
    assert page.periods == [f"2026-{m:02d}" for m in range(1, 8)]
    assert "2026-08" not in [r.period for r in page.rows]
    assert page.total_fen == matured and page.total_row[-3] == matured  # 未缴本金 column (then two 违约金 ones)


def test_no_notice_is_printed_for_an_account_that_paid_in_full_after_the_run(alice, arrears_estate, tmp_path):
    paid, owing = arrears_estate["units"][:2]
    run = D(2026, 7, 20)
    actions = [make_action(u, "registered_letter", run) for u in (paid, owing)]
    dispatch_on(run)  # the letters become tasks with their text
    assert Task.objects.filter(action__in=actions, status="open").count() == 2
    open_fen = sum(b.open_fen for b in Bill.objects.filter(unit=paid))
    payment_record(actor=alice, unit=paid, amount_fen=open_fen, method="cash",
                   paid_at=dt.datetime(2026, 7, 21, 10, 0, tzinfo=CST))
    pdf = notices_pdf([reload(a) for a in actions], as_of=D(2026, 7, 22))
    pages = parse_pages(pdf_text(pdf, tmp_path))
    assert len(pages) == 1 and owing.code in pages[0].text and paid.code not in pdf_text(pdf, tmp_path)
    assert all(p.total_fen > 0 for p in pages)
    withdrawn = reload(actions[0])
    assert withdrawn.status == "cancelled" and "已缴清" in withdrawn.last_error
    assert ActionEvent.objects.filter(action=withdrawn, status="cancelled", detail__contains="已缴清").exists()
    assert Task.objects.get(action=withdrawn).status == "cancelled"
    assert reload(actions[1]).status == "sent"
    # alone, nothing is printed at all (no page demanding ¥0.00)
    assert notices_pdf([reload(actions[0])], as_of=D(2026, 7, 22)) == b""


def test_a_referral_for_a_settled_account_is_withdrawn_not_drafted(alice, arrears_estate):
    unit = arrears_estate["units"][0]
    action = make_action(unit, "referral", D(2026, 7, 20))
    payment_record(actor=alice, unit=unit, amount_fen=sum(b.open_fen for b in Bill.objects.filter(unit=unit)),
                   method="cash", paid_at=dt.datetime(2026, 7, 21, 10, 0, tzinfo=CST))
    with pytest.raises(Settled):
        referral_draft_pdf(reload(action), as_of=D(2026, 7, 22))
    assert reload(action).status == "cancelled"


def test_after_a_sale_a_document_names_only_its_debtors_periods(alice, billed_estate, tmp_path):
    from wuye.estate.choices import OccupantRole
    from wuye.estate.models import Occupancy, Party
    from wuye.estate.services import occupancy_end, occupancy_start

    project, unit = billed_estate["project"], billed_estate["units"][0]
    seller = Party.objects.get(occupancies__unit=unit)
    for month in (1, 2, 3):
        bill_generate(actor=alice, project=project, period=D(2026, month, 1))
    occupancy_end(actor=alice, occupancy=Occupancy.objects.get(unit=unit, party=seller), end=D(2026, 3, 31))
    buyer = Party.objects.create(name="买受人", natural_key="t:buyer")
    no_one = Party.objects.create(name="无关的人", natural_key="t:none")
    occupancy_start(actor=alice, unit=unit, party=buyer, role=OccupantRole.OWNER, start=D(2026, 4, 1))
    for month in (4, 5):
        bill_generate(actor=alice, project=project, period=D(2026, month, 1))
    as_of = D(2026, 6, 1)
    figs = demand_figures_many([(unit.pk, seller.pk), (unit.pk, buyer.pk)], as_of)
    assert figs[(unit.pk, seller.pk)].periods == ("2026-01-01", "2026-02-01", "2026-03-01")
    assert figs[(unit.pk, buyer.pk)].periods == ("2026-04-01", "2026-05-01")
    letters = [make_action(unit, "registered_letter", as_of, party=p) for p in (seller, buyer)]
    pages = parse_pages(pdf_text(notices_pdf([reload(a) for a in letters], as_of=as_of), tmp_path))
    assert [p.periods for p in pages] == [["2026-01", "2026-02", "2026-03"], ["2026-04", "2026-05"]]
    assert seller.name in pages[0].text and buyer.name not in pages[0].text
    assert buyer.name in pages[1].text and seller.name not in pages[1].text
    assert [p.total_fen for p in pages] == [figs[(unit.pk, seller.pk)].total_fen, figs[(unit.pk, buyer.pk)].total_fen]
    # the statement: each party's own, from the desk page's download
    client = Client()
    client.force_login(alice)
    url = f"/billing/units/{unit.pk}/statement.pdf"
    mine = parse_page(pdf_text(client.get(url, {"as_of": "2026-06-01", "party": seller.pk}).content, tmp_path, "s.pdf"))
    assert mine.periods == ["2026-01", "2026-02", "2026-03"] and buyer.name not in mine.text
    assert mine.total_fen == figs[(unit.pk, seller.pk)].total_fen and upper_to_fen(mine.upper) == mine.total_fen
    default = parse_page(pdf_text(client.get(url, {"as_of": "2026-06-01"}).content, tmp_path, "d.pdf"))
    assert default.periods == ["2026-04", "2026-05"] and seller.name not in default.text  # the owner today's
    assert client.get(url, {"party": no_one.pk}).status_code == 404
    xlsx = client.get(f"/billing/units/{unit.pk}/statement.xlsx", {"as_of": "2026-06-01", "party": buyer.pk})
    assert xlsx.status_code == 200


def test_figures_for_a_batch_take_a_fixed_number_of_queries(arrears_estate, django_assert_max_num_queries):
    from django.test.utils import CaptureQueriesContext

    units = arrears_estate["units"]
    keys = [(u.pk, liable_party(u, D(2026, 7, 20)).pk) for u in units]
    with CaptureQueriesContext(connection) as two:
        demand_figures_many(keys[:2], D(2026, 7, 20))
    with django_assert_max_num_queries(len(two.captured_queries)):
        figs = demand_figures_many(keys, D(2026, 7, 20))
    assert len(figs) == len(keys) and all(f.months == 7 for f in figs.values())


# --- item 5: no 违约金 without a late-fee clause -----------------------------------------------------------

@pytest.fixture
def no_clause(arrears_estate):
    BillingPolicy.objects.filter(project=arrears_estate["project"]).update(late_fee_per_mille=Decimal("0"))
    return arrears_estate


def test_without_a_late_fee_clause_no_message_notice_or_letter_mentions_it(no_clause, tmp_path):
    unit = no_clause["units"][0]
    run = D(2026, 7, 20)
    actions = [make_action(unit, code, run) for code in ("arrears_sms", "notice_2", "registered_letter")]
    dispatch_on(run)
    for a in actions:
        a = reload(a)
        assert a.status == "sent" and a.content, a.step.name
        assert "违约金" not in a.content and "滞纳金" not in a.content, a.content
    assert reload(actions[2]).content.endswith("逾期仍未缴纳的，我司可能依法提起诉讼。")
    text = pdf_text(notices_pdf([reload(a) for a in actions[1:]], as_of=run), tmp_path)
    assert "违约金" not in text and "应缴合计" in text


def test_with_a_clause_the_warning_states_the_contracts_rate(arrears_estate):
    unit = arrears_estate["units"][0]
    run = D(2026, 7, 20)
    action = make_action(unit, "registered_letter", run)
    dispatch_on(run)
    assert "逾期将依照物业服务合同按日 0.5‰ 计收违约金。" in reload(action).content


def test_a_hand_written_late_fee_sentence_is_dropped_without_a_clause(alice, no_clause):
    from wuye.dunning.services import template_save

    template = MessageTemplate.objects.get(project=None, code="overdue_sms") if MessageTemplate.objects.filter(
        code="overdue_sms").exists() else step_of(no_clause["project"], "overdue_sms").template
    template_save(actor=alice, template=template, body="{unit} 欠费 {amount}，请于 {deadline} 前缴纳，逾期按日加收违约金。谢谢！")
    unit = no_clause["units"][0]
    action = make_action(unit, "overdue_sms", D(2026, 7, 20))
    dispatch_on(D(2026, 7, 20))
    content = reload(action).content
    assert "违约金" not in content and content.endswith("前缴纳。谢谢！"), content


@pytest.mark.parametrize(("text", "expected"), [
    ("请于 X 前缴纳，逾期按合同约定计收违约金。咨询 1。", "请于 X 前缴纳。咨询 1。"),
    ("请于 X 前缴清；逾期将计收违约金，并可能依法提起诉讼。", "请于 X 前缴清；并可能依法提起诉讼。"),
    ("违约金按日计收。请缴费。", "请缴费。"),
    ("没有那个词。", "没有那个词。"),
    ("第一行，含滞纳金\n第二行。", "第一行\n第二行。"),
])
def test_drop_late_fee_removes_only_the_clauses_that_mention_it(text, expected):
    assert wording.drop_late_fee(text) == expected


def test_the_migration_rewords_only_unedited_shipped_templates(estate):
    name = "0010_late_fee_wording"
    migration = importlib.import_module(f"wuye.dunning.migrations.{name}")
    apps = MigrationLoader(connection).project_state(("dunning", name)).apps
    policies_install_defaults(estate["project"])
    old_sms, new_sms = migration.CHANGES["arrears_sms"][0][0], migration.CHANGES["arrears_sms"][1]
    MessageTemplate.objects.filter(project=None, code="arrears_sms").update(body=old_sms, version=1)
    MessageTemplate.objects.filter(project=None, code="notice_2").update(body="{unit}：请缴费，否则计收违约金。", version=3)
    migration.forwards(apps, None)
    sms = MessageTemplate.objects.get(project=None, code="arrears_sms")
    assert (sms.body, sms.version) == (new_sms, 2)
    assert MessageTemplate.objects.get(project=None, code="notice_2").body == "{unit}：请缴费，否则计收违约金。"
    from wuye.accounts.models import AuditEvent

    assert AuditEvent.objects.filter(verb="dunning.template", actor_label__startswith="migration:").count() == 1
    migration.forwards(apps, None)  # once only
    assert MessageTemplate.objects.get(project=None, code="arrears_sms").version == 2


def test_the_shipped_texts_render_without_late_fee_words_when_the_rate_is_empty():
    from wuye.dunning.defaults import TEMPLATES
    from wuye.dunning.dispatch import render

    context = {"late_fee_rate": "", "amount": format_yuan(100), "deadline": "2026年7月27日", "unit": "1-101"}
    for code, (_name, _channel, subject, body) in TEMPLATES.items():
        assert not wording.mentions_late_fee(render(body, context)), code
        assert not wording.mentions_late_fee(render(subject, context)), code
