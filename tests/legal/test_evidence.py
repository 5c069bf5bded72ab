"""The hash chain over the action log, evidence packs (PDF with the 证据目录, ZIP with a SHA-256 manifest) and
``wuye evidence_verify``: a pack of a demo case verifies; editing one action row makes it fail naming that row."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.legal.conftest import SH, jpeg_bytes, png_bytes, referral_for, registered_of, upload
from wuye.dunning.models import Action, ActionEvent
from wuye.legal import chain, services
from wuye.legal.pack import build_pack, verify_pack

D = dt.date
TODAY = D(2026, 12, 4)


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setattr(services, "_today", lambda: TODAY)


@pytest.fixture
def demo_case(lettered, carol):
    """A case whose registered letter came back signed (EMS receipt uploaded) and whose owner once promised."""
    unit = lettered["units"][0]
    action = registered_of(unit)
    services.proof_upload(actor=carol, upload=upload(jpeg_bytes(), "ems.jpg"), kind="ems", task=action.task,
                          tracking_no="EA123456789CN", signed_by="业主001", relation="本人", signed_on=D(2026, 4, 25))
    return services.case_open_from_referral(actor=carol, task=referral_for(unit), on=D(2026, 12, 1))


def test_seal_then_verify_passes_and_is_idempotent(demo_case):
    first = chain.seal()
    assert first.sealed["action"] > 0 and first.sealed["action_event"] > 0 and first.sealed["proof"] == 1
    assert chain.seal().total == 0  # nothing new
    assert chain.verify() == []
    call_command("evidence_verify")  # no error


def test_pending_actions_are_not_sealed_until_final(lettered):
    chain.seal()
    sealed = set(chain.ChainLink.objects.filter(kind="action").values_list("row_id", flat=True))
    pending = set(Action.objects.filter(status="pending").values_list("pk", flat=True))
    assert sealed and not (sealed & pending)


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda a: Action.objects.filter(pk=a.pk).update(content="改过的内容"), "在封存后被修改"),
    (lambda a: Action.objects.filter(pk=a.pk).update(periods=["2025-01-01"]), "在封存后被修改"),
    (lambda a: Action.objects.filter(pk=a.pk).update(delivered_at=dt.datetime(2026, 10, 1, tzinfo=SH)),
     "送达时间被直接修改"),
    (lambda a: Action.objects.filter(pk=a.pk).update(status="failed"), "状态被直接修改"),
])
def test_editing_an_action_row_is_detected_naming_the_row(demo_case, lettered, edit, needle):
    action = registered_of(lettered["units"][0])
    chain.seal()
    edit(action)
    problems = chain.verify()
    assert problems and any(f"催缴动作 #{action.pk}" in str(p) and needle in str(p) for p in problems), problems
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("evidence_verify")


def test_editing_a_case_event_date_is_detected_naming_the_row(demo_case, carol, tmp_path):
    """A request for mediation restarts the clocks of the case's periods: moving its date later would lengthen
    them, so the case's events are sealed like the action log and a pack relying on one names the edit."""
    event = services.case_event_add(actor=carol, case=demo_case, event="mediation_requested", on=D(2026, 12, 2),
                                    mediator="peoples_mediation", note="向人民调解委员会申请调解")
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    data = pack.zip.read()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert {"kind": "case_event", "id": event.pk} in [{"kind": r["kind"], "id": r["id"]} for r in manifest["records"]]
    assert chain.verify() == [] and verify_pack(data) == []
    from wuye.legal.models import CaseEvent

    CaseEvent.objects.filter(pk=event.pk).update(on=D(2026, 12, 3))
    needle = f"案件进展 #{event.pk}（表 legal_caseevent，id={event.pk}） 在封存后被修改"
    assert any(needle in str(p) for p in chain.verify()), chain.verify()
    assert any(needle in p for p in verify_pack(data))
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("evidence_verify", "--pack", str(path))


def test_deleting_an_event_or_a_link_is_detected(demo_case, lettered):
    chain.seal()
    event = ActionEvent.objects.filter(action=registered_of(lettered["units"][0])).order_by("pk").first()
    ActionEvent.objects.filter(pk=event.pk).delete()
    assert any(f"动作记录 #{event.pk}" in str(p) and "已被删除" in str(p) for p in chain.verify())


def test_a_tampered_link_is_detected(demo_case):
    chain.seal()
    link = chain.ChainLink.objects.order_by("seq")[3]
    chain.ChainLink.objects.filter(pk=link.pk).update(row_hash="f" * 64)
    assert any("链接摘要不符" in str(p) for p in chain.verify())


def test_the_pack_opens_its_manifest_matches_and_verify_passes(demo_case, carol, tmp_path):
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    assert pack.pages >= 11 and pack.exhibits == 10
    data = pack.zip.read()
    assert hashlib.sha256(data).hexdigest() == pack.zip_sha256
    zf = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(zf.read("manifest.json"))
    for f in manifest["files"]:
        assert hashlib.sha256(zf.read(f["path"])).hexdigest() == f["sha256"]
    assert any(f["path"].startswith("proofs/") for f in manifest["files"])
    kinds = {r["kind"] for r in manifest["records"]}
    assert {"action", "action_event", "proof"} <= kinds
    assert [e["no"] for e in manifest["exhibits"]] == list(range(1, 11))
    spans = [e["pages"] for e in manifest["exhibits"]]
    assert spans[0][0] == 2 and all(a[1] + 1 == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert spans[-1][1] == pack.pages
    assert verify_pack(data) == []
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    call_command("evidence_verify", pack=str(path))
    # a later edit of a demand the pack relies on makes the pack fail, naming the row
    action = registered_of(demo_case.lines.first().unit)
    Action.objects.filter(pk=action.pk).update(address="改过的地址")
    problems = verify_pack(data)
    assert any(f"催缴动作 #{action.pk}" in p for p in problems), problems
    with pytest.raises(CommandError):
        call_command("evidence_verify", pack=str(path))


def test_a_file_changed_inside_the_zip_is_detected(demo_case, carol):
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    src = zipfile.ZipFile(io.BytesIO(pack.zip.read()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data + b"x" if name == "data/欠费明细.csv" else data)
    assert any("欠费明细.csv" in p and "被改动" in p for p in verify_pack(out.getvalue()))


def test_pdftotext_finds_the_index_and_every_exhibit(demo_case, carol, tmp_path):
    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    path = tmp_path / "p.pdf"
    path.write_bytes(pack.pdf.read())
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")
    assert "证据目录" in pages[0] and demo_case.number in pages[0]
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(pack.zip.read())).read("manifest.json"))
    for ex in manifest["exhibits"]:
        first, last = ex["pages"]
        assert f"证据 {ex['no']}" in pages[first - 1] and ex["title"][:6] in pages[first - 1]
        assert f"{first}–{last}" in pages[0]
    assert "EA123456789CN" in text and "业主001" in text


def _pdf_text(pack, tmp_path) -> str:
    path = tmp_path / f"p{pack.pk}.pdf"
    path.write_bytes(pack.pdf.read())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(text.split())  # CJK text comes out with spaces and breaks of its own


def test_the_statement_is_carried_to_the_packs_day_and_checked_against_the_ledger(demo_case, carol, alice,
                                                                                  tmp_path):
    """A payment after opening lowers what is open; the pack shows the arithmetic from the frozen figure (paid
    since, waived since, open now) and checks each line against the balance the ledger keeps, so a figure a
    court reads reconciles with the books — and a line whose balance was altered behind the ledger's rows is
    marked instead of being printed as owing."""
    import csv

    from django.db.models import F

    from wuye.billing.models import Bill
    from wuye.billing.services import payment_record

    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    unit = demo_case.lines.first().unit
    payment_record(actor=alice, unit=unit, amount_fen=25_000, method="cash")
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    rows = list(csv.DictReader(io.StringIO(zipfile.ZipFile(io.BytesIO(pack.zip.read()))
                                           .read("data/欠费明细.csv").decode("utf-8-sig"))))
    assert len(rows) == demo_case.lines.count()
    for r in rows:
        assert int(r["未缴(分)"]) - int(r["立案后缴纳(分)"]) - int(r["立案后减免(分)"]) == int(r["现未缴(分)"])
        assert r["现未缴(分)"] == r["账面未缴(分)"]
    assert sum(int(r["立案后缴纳(分)"]) for r in rows) > 0
    text = _pdf_text(pack, tmp_path)
    assert "与账务核对（截至2026-12-04）" in text and "与账务不符" not in text

    last = demo_case.lines.order_by("-period_start").first()
    Bill.objects.filter(pk=last.bill_id).update(settled_fen=F("settled_fen") + 100)  # the cache moved, no row
    text = _pdf_text(build_pack(actor=carol, case=demo_case, as_of=TODAY), tmp_path)
    assert "与账务不符" in text and f"{last.period_start:%Y-%m}{last.unit.code}" in text.split("须先核实账务再主张")[1]


def test_the_payments_exhibit_holds_the_debtors_payments_only(demo_case, carol, alice, tmp_path):
    """After a sale the buyer pays their own period on the same unit: that payment is theirs and stays out of the
    seller's court file; a payment on the seller's periods is listed with what it paid."""
    from wuye.billing.models import Allocation, Bill, Payment
    from wuye.estate.models import Party

    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    line = demo_case.lines.select_related("bill").first()
    buyer = Party.objects.create(name="买受人丙", natural_key="buyer-3")
    theirs = Bill.objects.create(project=line.bill.project, unit=line.unit, party=buyer, fee_item=line.bill.fee_item,
                                 period_start=D(2026, 8, 1), period_end=D(2026, 8, 31), amount_fen=17_900,
                                 due_date=D(2026, 8, 15), rule="测试")
    for bill, receipt in ((theirs, "RBUYER0001"), (line.bill, "RSELLER0001")):
        pay = Payment.objects.create(project=bill.project, unit=bill.unit, amount_fen=1_000, method="cash",
                                     paid_at=dt.datetime(2026, 12, 2, 10, tzinfo=SH), receipt_no=receipt)
        Allocation.objects.create(payment=pay, bill=bill, amount_fen=1_000, applied_on=D(2026, 12, 2))
    text = _pdf_text(build_pack(actor=carol, case=demo_case, as_of=TODAY), tmp_path)
    assert "RSELLER0001" in text and "RBUYER0001" not in text and "2026-08" not in text.split("缴费与部分缴费记录")[-1]


def test_proof_upload_refuses_bad_files_and_writes_nothing(lettered, carol):
    from django.core.exceptions import ValidationError

    from wuye.legal.models import DeliveryProof

    action = registered_of(lettered["units"][0])
    base = dict(actor=carol, kind="ems", task=action.task, tracking_no="EA123456789CN", signed_by="业主001",
                relation="本人", signed_on=D(2026, 4, 25))
    cases = [
        (upload(b"MZ\x90\x00 not an image", "scan.jpg"), "只接受"),
        (upload(b"\xff\xd8\xff\xe0 broken jpeg", "scan.jpg"), "损坏"),
        (upload(b"%PDF-1.4 /JavaScript (app.alert(1)) %%EOF", "x.pdf"), "脚本"),
        (upload(png_bytes() + b"x" * 200, "big.png"), "过大"),
    ]
    from django.test import override_settings

    with override_settings(WUYE_LEGAL_UPLOAD_MAX_BYTES=200):
        for up, needle in cases:
            with pytest.raises(ValidationError, match=needle):
                services.proof_upload(upload=up, **base)
    with pytest.raises(ValidationError, match="邮件单号"):
        services.proof_upload(upload=upload(png_bytes()), **{**base, "tracking_no": "12"})
    with pytest.raises(ValidationError, match="签收日期不能早于寄出日期"):
        services.proof_upload(upload=upload(png_bytes()), **{**base, "signed_on": D(2026, 4, 1)})
    assert not DeliveryProof.objects.exists()
    action.refresh_from_db()
    assert action.status == "sent" and action.task.status == "open"


def test_proof_on_an_sms_is_refused(lettered, carol):
    from django.core.exceptions import ValidationError

    sms = Action.objects.filter(unit=lettered["units"][0], channel="sms").first()
    with pytest.raises(ValidationError, match="挂号信/EMS 或书面通知"):
        services.proof_upload(actor=carol, upload=upload(png_bytes()), kind="ems", action=sms,
                              tracking_no="EA123456789CN", signed_by="x", relation="本人", signed_on=D(2026, 4, 25))


def test_proof_stores_hash_and_restarts_the_clock(lettered, carol):
    from wuye.legal.clocks import limitation_clocks

    unit = lettered["units"][0]
    action = registered_of(unit)
    proof = services.proof_upload(actor=carol, upload=upload(png_bytes(), "回执.png"), kind="signed_receipt",
                                  task=action.task, signed_by="业主001之妻", relation="同住成年家属", signed_on=D(2026, 4, 27))
    assert proof.size == len(proof.file.read()) and len(proof.sha256) == 64 and proof.content_type == "image/png"
    action.refresh_from_db()
    assert action.status == "delivered" and action.delivered_at.astimezone(SH).date() == D(2026, 4, 27)
    clocks = {lc.period_start: lc.clock for lc in limitation_clocks(as_of=TODAY, unit_ids=[unit.pk])}
    assert clocks[D(2026, 1, 1)].expiry == D(2029, 4, 27)  # restarted by the signed letter
    assert clocks[D(2026, 6, 1)].expiry == D(2029, 6, 16)  # not named in it


def test_the_daily_legal_job_seals_counts_and_reminds(demo_case, carol):
    from wuye.legal.models import ClockSummary
    from wuye.tasks import legal_daily

    services.deadline_add(actor=carol, case=demo_case, kind="hearing", due_on=TODAY, note="开庭")
    legal_daily.call_local()
    assert chain.ChainLink.objects.filter(kind="proof").exists()
    assert ClockSummary.objects.filter(project=demo_case.project).exists()
    assert demo_case.deadlines.get().reminded_on is not None


def test_demo_case_is_opened_with_a_pack(lettered, make_user):
    from wuye.legal.demo import demo_legal
    from wuye.legal.models import EvidencePack

    lettered["project"].code = "DEMO-CH"
    lettered["project"].save()
    make_user("fawu", "legal")
    number = demo_legal()
    assert number and EvidencePack.objects.get().case.number == number
    assert verify_pack(EvidencePack.objects.get().zip.read()) == []
    assert demo_legal() is None  # once


def test_a_visit_photo_goes_into_the_pack_with_its_hash(demo_case, carol, bob_territory):
    from wuye.casework.services import visit_record

    unit = demo_case.lines.first().unit
    attempt = visit_record(actor=bob_territory, unit=unit, outcome="notice_left", note="催缴通知塞入门缝",
                           photo=upload(png_bytes(), "door.png"))
    shot = attempt.photos.get()
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    zf = zipfile.ZipFile(io.BytesIO(pack.zip.read()))
    names = [n for n in zf.namelist() if n.startswith("visits/")]
    assert len(names) == 1 and hashlib.sha256(zf.read(names[0])).hexdigest() == shot.sha256
    manifest = json.loads(zf.read("manifest.json"))
    assert any(f["path"] == names[0] and f["sha256"] == shot.sha256 for f in manifest["files"])


def _pdf_text(pack, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        from tests.conftest import skip_or_fail

        skip_or_fail("pdftotext (poppler-utils) is not installed", "WUYE_REQUIRE_PDFTOTEXT")
    path = tmp_path / "p.pdf"
    path.write_bytes(pack.pdf.read())
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(text.split())  # long lines wrap inside the table cells


@pytest.mark.parametrize("damage", [b"this is not a picture at all", jpeg_bytes()[:200]], ids=["not-image", "truncated"])
def test_a_damaged_evidence_picture_is_listed_with_its_hash_and_the_pack_is_still_built(
        demo_case, carol, bob_territory, tmp_path, damage):
    """A stored visit photo and a stored delivery proof whose files are damaged after upload (disk fault, a
    restore gone wrong): the pack is built, each is listed with its recorded hash and a note that it could not
    be shown, and the damaged file itself is in the ZIP with the hash of what is stored."""
    from wuye.casework.services import visit_record
    from wuye.legal.models import DeliveryProof

    unit = demo_case.lines.first().unit
    attempt = visit_record(actor=bob_territory, unit=unit, outcome="notice_left", note="催缴通知塞入门缝",
                           photo=upload(png_bytes(), "door.png"))
    shot = attempt.photos.get()
    proof = DeliveryProof.objects.get()
    for stored in (shot.file, proof.file):
        with open(stored.path, "wb") as f:
            f.write(damage)

    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)

    zdata = pack.zip.read()
    zf = zipfile.ZipFile(io.BytesIO(zdata))
    manifest = json.loads(zf.read("manifest.json"))
    for folder in ("visits/", "proofs/"):
        names = [n for n in zf.namelist() if n.startswith(folder)]
        assert len(names) == 1 and zf.read(names[0]) == damage
        assert any(f["path"] == names[0] and f["sha256"] == hashlib.sha256(damage).hexdigest()
                   for f in manifest["files"])
    assert verify_pack(zdata) == []
    text = _pdf_text(pack, tmp_path)
    assert text.count("【无法显示】") == 2
    assert shot.sha256 in text and proof.sha256 in text
    assert hashlib.sha256(damage).hexdigest() in text  # what is stored now differs from what was uploaded


def test_a_payment_the_pack_lists_is_sealed_with_it_and_an_edit_is_named(demo_case, carol, alice, tmp_path):
    """Decision 162: the pack keeps the hash of each payment and allocation it lists, and its own record is sealed
    at once; editing a payment or an allocation in the database is then named by ``evidence_verify`` (and by the
    pack's check). A reversal — a new payment, new negative allocations — breaks nothing."""
    from wuye.billing.models import Allocation, Payment
    from wuye.billing.services import payment_record, payment_reverse

    unit = demo_case.lines.first().unit
    paid = payment_record(actor=alice, unit=unit, amount_fen=20_000, method="cash", paid_at=dt.datetime(
        2026, 12, 2, 10, tzinfo=SH))
    other = payment_record(actor=alice, unit=unit, amount_fen=5_000, method="cash", paid_at=dt.datetime(
        2026, 12, 3, 10, tzinfo=SH))
    allocations = list(Allocation.objects.filter(payment=paid).values_list("pk", flat=True))
    assert allocations
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    pack.refresh_from_db()
    assert set(pack.ledger["payment"]) >= {str(paid.pk), str(other.pk)}
    assert set(pack.ledger["allocation"]) >= {str(pk) for pk in allocations}
    assert chain.links_for("pack", [pack.pk])  # sealed as soon as built
    data = pack.zip.read()
    assert json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))["ledger"] == pack.ledger
    assert chain.verify() == [] and verify_pack(data) == []

    payment_reverse(actor=alice, payment=other, reason="退票")
    assert chain.verify() == [] and verify_pack(data) == []  # append-only correction: nothing sealed changed

    Payment.objects.filter(pk=paid.pk).update(amount_fen=2_000)
    needle = f"收款 #{paid.pk}（表 billing_payment，id={paid.pk}） 在证据包 #{pack.pk}"
    assert any(needle in str(p) for p in chain.verify()), chain.verify()
    assert any(f"收款 #{paid.pk}（表 billing_payment，id={paid.pk}） 在本证据包组包后被修改" in p
               for p in verify_pack(data))
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("evidence_verify")
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("evidence_verify", "--pack", str(path))
    Payment.objects.filter(pk=paid.pk).update(amount_fen=20_000)
    assert chain.verify() == []

    Allocation.objects.filter(pk=allocations[0]).update(applied_on=D(2026, 11, 1))
    assert any(f"核销 #{allocations[0]}（表 billing_allocation，id={allocations[0]}）" in str(p)
               for p in chain.verify())


def test_the_packs_sealed_payment_hashes_cannot_be_rewritten_unseen(demo_case, carol, alice):
    from wuye.billing.services import payment_record
    from wuye.legal.models import EvidencePack

    payment_record(actor=alice, unit=demo_case.lines.first().unit, amount_fen=20_000, method="cash",
                   paid_at=dt.datetime(2026, 12, 2, 10, tzinfo=SH))
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    ledger = EvidencePack.objects.get(pk=pack.pk).ledger
    ledger["payment"] = {k: "0" * 64 for k in ledger["payment"]}
    EvidencePack.objects.filter(pk=pack.pk).update(ledger=ledger)
    problems = [str(p) for p in chain.verify()]
    assert any(f"证据包 #{pack.pk}（表 legal_evidencepack，id={pack.pk}） 在封存后被修改" in p for p in problems), problems


def test_the_packs_bills_and_adjustments_are_sealed_an_edit_is_named_a_correction_is_a_later_change(
        demo_case, carol, alice, tmp_path, capsys):
    """Decision 185: the pack seals the bills it lists (amount, due date, debtor …) and every allocation and decided
    adjustment on them. Editing a listed bill's amount, due date or liable party, an adjustment, or the bill's
    balance behind its rows is named by ``evidence_verify``; a correction appended later (a waiver, a reversal) is
    no problem and is listed as a later change."""
    from wuye.billing.models import Adjustment, Bill
    from wuye.billing.services import adjustment_request, payment_record, payment_reverse
    from wuye.estate.models import Party

    lines = list(demo_case.lines.select_related("bill").order_by("period_start"))
    first, last = lines[0].bill, lines[-1].bill
    waived = adjustment_request(actor=alice, bill=first, kind="waive_principal", reason="漏水减免", amount_fen=1_000)
    assert waived.status == "approved"
    paid = payment_record(actor=alice, unit=first.unit, amount_fen=5_000, method="cash",
                          paid_at=dt.datetime(2026, 12, 2, 10, tzinfo=SH))
    pack = build_pack(actor=carol, case=demo_case, as_of=TODAY)
    pack.refresh_from_db()
    assert set(pack.ledger["bill"]) == {str(x.bill_id) for x in lines}
    assert str(waived.pk) in pack.ledger["adjustment"]
    data = pack.zip.read()
    assert json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))["ledger"] == pack.ledger
    assert chain.verify() == [] and verify_pack(data) == [] and chain.pack_changes() == []

    # legitimate corrections: a new waiver on a listed bill, a reversal of a payment the pack listed
    later = adjustment_request(actor=alice, bill=last, kind="waive_principal", reason="困难减免", amount_fen=500)
    payment_reverse(actor=alice, payment=paid, reason="退票")
    assert chain.verify() == [] and verify_pack(data) == []
    changes = chain.pack_changes()
    assert any(f"账单 #{last.pk}（表 billing_bill，id={last.pk}） 在证据包 #{pack.pk}" in c and f"调整 #{later.pk}" in c
               for c in changes), changes
    assert any("冲正收款" in c for c in changes), changes
    call_command("evidence_verify")
    assert "后续变动" in capsys.readouterr().out

    buyer = Party.objects.create(name="他人丁", natural_key="other-4")
    label = f"账单 #{first.pk}（表 billing_bill，id={first.pk}） 在证据包 #{pack.pk}"
    for edit in ({"amount_fen": first.amount_fen + 100}, {"due_date": D(2026, 6, 30)}, {"party": buyer}):
        Bill.objects.filter(pk=first.pk).update(**edit)
        problems = [str(p) for p in chain.verify()]
        assert any(label in p and "被修改" in p for p in problems), (edit, problems)
        assert any(f"账单 #{first.pk}（表 billing_bill，id={first.pk}） 在本证据包组包后被修改" in p
                   for p in verify_pack(data))
        Bill.objects.filter(pk=first.pk).update(amount_fen=first.amount_fen, due_date=first.due_date,
                                                party=first.party)
        assert chain.verify() == []

    Adjustment.objects.filter(pk=waived.pk).update(amount_fen=9_000)
    assert any(f"账单调整 #{waived.pk}（表 billing_adjustment，id={waived.pk}） 在证据包 #{pack.pk}" in str(p)
               for p in chain.verify())
    Adjustment.objects.filter(pk=waived.pk).update(amount_fen=1_000)
    assert chain.verify() == []

    # the balance moved with no row behind it
    from django.db.models import F

    Bill.objects.filter(pk=first.pk).update(settled_fen=F("settled_fen") + 300)
    problems = [str(p) for p in chain.verify()]
    assert any(f"账单 #{first.pk}（表 billing_bill，id={first.pk}） 的已结清金额" in p for p in problems), problems
    path = tmp_path / "pack.zip"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="校验未通过"):
        call_command("evidence_verify", "--pack", str(path))


def test_the_ownership_exhibit_masks_identity_numbers_of_anyone_but_the_debtor(demo_case, carol):
    """Decision 188: a tenant's or a buyer's identity number is not the court file's business (PIPL 6)."""
    from wuye.estate.models import Occupancy, Party
    from wuye.legal.pack import Builder

    unit = demo_case.lines.first().unit
    Party.objects.filter(pk=demo_case.party_id).update(id_number="330106199001011234")
    tenant = Party.objects.create(name="租户戊", natural_key="tenant-5", id_number="330106198505054321")
    Occupancy.objects.create(unit=unit, party=tenant, role="tenant", start=D(2025, 1, 1))
    demo_case.refresh_from_db()
    text = str(Builder(demo_case, TODAY).ownership().story[0]._cellvalues)
    assert "330106199001011234" in text and "330106198505054321" not in text and "3301**********4321" in text
