"""A legal case for ``wuye demo``: the oldest open lawyer-letter referral (or the largest arrears) becomes a case,
a registered letter of that debtor comes back signed (an EMS receipt scan is uploaded), and its evidence pack is
built — so the legal login has a case file, clocks, a 支付令 check and a pack to open."""

from __future__ import annotations

import datetime as dt
import io

from django.utils import timezone


def _scan_png(text: str) -> bytes:
    """A small picture standing in for a scanned EMS 签收 slip (the demo has no real scans)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 220), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((8, 8, 472, 212), outline="black", width=3)
    draw.text((24, 30), "EMS", fill="black")
    draw.text((24, 80), text, fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def demo_legal(*, legal: str = "fawu") -> str | None:
    """Open the demo case; returns its number (None when there is nothing to open or it exists already)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models import F, Sum

    from wuye.accounts.models import User
    from wuye.billing.models import Bill
    from wuye.dunning.choices import ActionStatus, Channel, TaskKind, TaskStatus
    from wuye.dunning.models import Action, Task
    from wuye.estate.models import Unit
    from wuye.legal import services
    from wuye.legal.models import LegalCase
    from wuye.legal.pack import build_pack

    user = User.objects.filter(username=legal).first()
    if user is None or LegalCase.objects.exists():
        return None
    today = services._today()
    task = (Task.objects.filter(kind=TaskKind.REFERRAL, status=TaskStatus.OPEN, project__code="DEMO-CH")
            .order_by("due_on", "pk").first())
    if task is None:
        top = (Bill.objects.filter(project__code="DEMO-CH", is_void=False, late_fee_of__isnull=True,
                                   settled_fen__lt=F("amount_fen"), due_date__lt=today)
               .values("unit_id").annotate(t=Sum(F("amount_fen") - F("settled_fen"))).order_by("-t").first())
        if top is None:
            return None
        unit = Unit.objects.select_related("project").get(pk=top["unit_id"])
        task = Task.objects.create(project=unit.project, unit=unit, kind=TaskKind.REFERRAL,
                                   title=f"{unit.code} 律师函转介（演示）", assignee_role="legal", due_on=today)
    letter = (Action.objects.filter(unit_id=task.unit_id, channel__in=[Channel.REGISTERED, Channel.NOTICE],
                                    status=ActionStatus.SENT).order_by("-sent_at").first())
    if letter is not None:
        sent = timezone.localtime(letter.sent_at).date()
        signed = min(today, sent + dt.timedelta(days=3))
        try:
            services.proof_upload(actor=user, upload=SimpleUploadedFile("ems.png", _scan_png("EA100200300CN")),
                                  kind="ems", action=letter, tracking_no="EA100200300CN", signed_by="业主本人",
                                  relation="本人", signed_on=signed)
        except Exception:  # noqa: BLE001 - demo data: a refused proof leaves the case without it
            pass
    case = services.case_open_from_referral(actor=user, task=task, on=today)
    build_pack(actor=user, case=case)
    return case.number
