"""An office tenant's 3/7/10-day written notices, then escalation to the department head."""

import datetime as dt

from wuye.dunning.dispatch import dispatch
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Task

from .conftest import names

D = dt.date


def test_three_notices_on_days_3_7_10_then_escalation(office, alice):
    for day in range(11, 25):
        dunning_run(as_of=D(2026, 3, day))
    got = [(d, n) for d, n in names(office) if not n.startswith("到期前")]
    assert got == [
        (D(2026, 3, 11), "逾期短信"),
        (D(2026, 3, 13), "第一次催缴通知书"),
        (D(2026, 3, 17), "第二次催缴通知书"),
        (D(2026, 3, 20), "第三次催缴通知书"),
        (D(2026, 3, 23), "升级部门负责人"),
    ]
    # written notices become delivery tasks on a working day; the escalation goes to the manager
    dispatch(now=dt.datetime(2026, 3, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    kinds = dict(Task.objects.filter(unit=office).values_list("title", "kind"))
    assert kinds["A-1201 第一次催缴通知书"] == "notice"
    escalation = Task.objects.get(unit=office, kind="escalate")
    assert escalation.assigned_to == alice


def test_a_signed_notice_is_recorded_as_delivered_with_the_signer(office, alice, client):
    from wuye.dunning.choices import ActionStatus, TaskStatus

    for day in (11, 13):
        dunning_run(as_of=D(2026, 3, day))
    dispatch(now=dt.datetime(2026, 3, 13, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    task = Task.objects.get(unit=office, kind="notice")
    client.force_login(alice)
    # a signer without the relation is refused, and nothing changes
    client.post(f"/collection/tasks/{task.pk}/close/", {"signed_by": "王前台", "signed_on": "2026-03-13"})
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    client.post(f"/collection/tasks/{task.pk}/close/", {"signed_by": "王前台", "relation": "公司前台/指定人员",
                                                        "signed_on": "2026-03-13", "note": "前台代收"})
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and "王前台" in task.close_note
    action = task.action
    action.refresh_from_db()
    assert action.status == ActionStatus.DELIVERED and action.delivered_at.date() == D(2026, 3, 13)
    assert action.events.filter(status=ActionStatus.DELIVERED, actor_label=f"user:{alice.username}").exists()


def test_the_designated_signer_is_named_on_the_notice_the_task_the_ems_letter_and_the_mailing_list(
        office, alice, tmp_path):
    """Seed 004: an office tenant's notices are handed to the person the company designated; when nobody can be
    reached they go by EMS to the contact address. The notice, its delivery task, the EMS letter, its task and
    the mailing list name that person."""
    from openpyxl import load_workbook

    from tests.dunning.docparse import pdf_text
    from wuye.dunning.models import Action
    from wuye.dunning.notices import ems_list_xlsx, notices_pdf
    from wuye.dunning.services import task_close
    from wuye.estate.choices import ContactKind, ContactSource
    from wuye.estate.models import Party
    from wuye.estate.services import contact_add

    tenant = Party.objects.get(natural_key="co:1")
    signer = Party.objects.create(name="张行政", natural_key="co:1:signer")
    contact_add(actor=alice, party=signer, kind=ContactKind.MOBILE, value="13912340000",
                source=ContactSource.OWNER, is_primary=True)
    contact_add(actor=alice, party=tenant, kind=ContactKind.ADDRESS, value="杭州市某路 1 号环球中心 A 座 1201",
                source=ContactSource.OWNER)
    tenant.designated_signer = signer
    tenant.save()
    cst = dt.timezone(dt.timedelta(hours=8))
    for day in (11, 13):
        dunning_run(as_of=D(2026, 3, day))
    dispatch(now=dt.datetime(2026, 3, 13, 10, 0, tzinfo=cst))
    task = Task.objects.get(unit=office, kind="notice")
    assert task.title == "A-1201 第一次催缴通知书（交指定负责人 张行政）"
    assert "张行政（13912340000）" in task.detail and "无人签收" in task.detail
    text = pdf_text(notices_pdf([task.action], as_of=D(2026, 3, 13)), tmp_path, "notice.pdf")
    assert "致：某某科技有限公司 指定负责人：张行政" in " ".join(text.split())
    assert "应由指定负责人 张行政 签收" in text

    task_close(actor=alice, task=task, note="前台称负责人出差", unsigned=True)
    dunning_run(as_of=D(2026, 3, 16))
    dispatch(now=dt.datetime(2026, 3, 16, 10, 0, tzinfo=cst))
    ems = Action.objects.get(unit=office, step__name="无人签收改寄 EMS")
    assert ems.address == "杭州市某路 1 号环球中心 A 座 1201"
    letter_task = Task.objects.get(action=ems)
    assert letter_task.title.endswith("（寄指定负责人 张行政）") and "收件人写该单位指定负责人 张行政" in letter_task.detail
    letter = pdf_text(notices_pdf([ems], as_of=D(2026, 3, 16)), tmp_path, "ems.pdf")
    assert "指定负责人：张行政" in " ".join(letter.split())
    sheet = load_workbook(ems_list_xlsx([ems], as_of=D(2026, 3, 16))).active
    assert sheet.cell(row=2, column=4).value == "某某科技有限公司 张行政 收"


def test_a_tenant_without_a_designated_signer_keeps_the_plain_addressee(office, alice, tmp_path):
    from tests.dunning.docparse import pdf_text
    from wuye.dunning.notices import notices_pdf

    for day in (11, 13):
        dunning_run(as_of=D(2026, 3, day))
    dispatch(now=dt.datetime(2026, 3, 13, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    task = Task.objects.get(unit=office, kind="notice")
    assert task.title == "A-1201 第一次催缴通知书" and "指定负责人" not in task.detail
    text = pdf_text(notices_pdf([task.action], as_of=D(2026, 3, 13)), tmp_path)
    assert "指定负责人" not in text and "致：某某科技有限公司" in " ".join(text.split())


def test_a_name_with_markup_characters_is_printed_as_written(office, alice, tmp_path):
    """reportlab reads a paragraph as markup: a "<" in a tenant's name stopped the whole batch (ValueError)
    and "&lt;" was printed as "<". Names and texts are printed as they are stored."""
    from tests.dunning.docparse import pdf_text
    from wuye.dunning.notices import notices_pdf
    from wuye.estate.models import Party

    Party.objects.filter(natural_key="co:1").update(name="A<B>&C 科技有限公司 &lt;总部&gt;")
    for day in (11, 13):
        dunning_run(as_of=D(2026, 3, day))
    dispatch(now=dt.datetime(2026, 3, 13, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    task = Task.objects.get(unit=office, kind="notice")
    text = pdf_text(notices_pdf([task.action], as_of=D(2026, 3, 13)), tmp_path)
    assert "致：A<B>&C 科技有限公司 &lt;总部&gt;" in " ".join(text.split())
