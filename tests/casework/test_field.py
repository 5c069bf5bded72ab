"""Field work: visits are visits (outcomes, the person met, a photo kept as evidence with its hash), a visit that
finds nobody changes no class, the away class is never sent to the door, one-tap outcomes can be undone as a
correction, and the collector's case page shows one debtor's periods."""

import datetime as dt
import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from tests.casework.conftest import run
from wuye.casework import services
from wuye.casework.models import ContactAttempt, ImmutableError, VisitPhoto
from wuye.dunning.models import Action, Episode, Task

pytestmark = pytest.mark.django_db


def png(size=(40, 30), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def klass(unit):
    return Episode.objects.get(unit=unit, closed_on__isnull=True).account_class


def test_a_visit_that_finds_nobody_keeps_the_class_and_records_no_number(unit, bob_territory):
    run(dt.date(2026, 2, 20))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away")
    assert klass(unit) == "away"
    for outcome in ("not_home", "door_refused", "vacant"):
        attempt = services.visit_record(actor=bob_territory, unit=unit, outcome=outcome)
        assert attempt.channel == "visit" and attempt.contact_point_id is None
        assert klass(unit) == "away"  # finding nobody says nothing new about the owner
    met = services.visit_record(actor=bob_territory, unit=unit, outcome="met", person_met="王阿姨",
                                relationship="parent", note="业主在外地工作，母亲在家")
    assert (met.person_met, met.get_relationship_display()) == ("王阿姨", "父母")
    assert klass(unit) == "away"
    services.visit_record(actor=bob_territory, unit=unit, outcome="moved_out", note="邻居说已搬走半年")
    assert klass(unit) == "unreachable"  # find where they went


def test_a_visit_refuses_call_outcomes_and_a_posted_notice_needs_a_photo(unit, bob_territory):
    run(dt.date(2026, 2, 20))
    with pytest.raises(ValidationError) as exc:
        services.contact_record(actor=bob_territory, unit=unit, channel="visit", outcome="no_answer")
    assert "上门" in str(exc.value.message_dict["outcome"])
    with pytest.raises(ValidationError) as exc:
        services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="not_home")
    assert "outcome" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.visit_record(actor=bob_territory, unit=unit, outcome="notice_left")
    assert "拍照" in exc.value.message_dict["photo"][0]
    with pytest.raises(ValidationError) as exc:
        services.visit_record(actor=bob_territory, unit=unit, outcome="met")
    assert "relationship" in exc.value.message_dict
    assert not ContactAttempt.objects.filter(unit=unit).exists()


def test_a_visit_photo_is_kept_with_its_hash_and_shows_on_the_case_page(unit, bob_territory, client, settings):
    run(dt.date(2026, 2, 20))
    task = Task.objects.create(project=unit.project, unit=unit, kind="visit", title="上门沟通",
                               due_on=timezone.localdate(), assigned_to=bob_territory)
    client.force_login(bob_territory)
    page = client.get(f"/casework/units/{unit.pk}/visit/?task={task.pk}")
    assert page.status_code == 200 and "所拨号码" not in page.content.decode()  # nothing is dialled at a door
    r = client.post(f"/casework/units/{unit.pk}/visit/", {
        "outcome": "notice_left", "note": "催缴通知塞入门缝", "task": task.pk,
        "photo": SimpleUploadedFile("门口.png", png(), content_type="image/png")})
    assert r.status_code == 302
    shot = VisitPhoto.objects.get(unit=unit)
    stored = shot.file.read()
    assert shot.sha256 == hashlib.sha256(stored).hexdigest() and shot.size == len(stored)
    assert shot.uploaded_by == bob_territory and shot.contact.outcome == "notice_left"
    assert shot.contact.task == task
    task.refresh_from_db()
    assert task.status == "done"
    case = client.get(f"/casework/units/{unit.pk}/").content.decode()
    assert shot.sha256 in case and "已张贴/塞门通知" in case
    photo = client.get(f"/casework/photos/{shot.pk}/")
    assert photo.status_code == 200 and b"".join(photo.streaming_content) == stored
    with pytest.raises(ImmutableError):
        shot.delete()
    # bounded by size and by content type
    settings.WUYE_VISIT_PHOTO_MAX_BYTES = 200
    r = client.post(f"/casework/units/{unit.pk}/visit/", {
        "outcome": "notice_left", "photo": SimpleUploadedFile("big.png", png((200, 200), (1, 2, 3)) * 3)})
    assert r.status_code == 200 and "照片过大" in r.content.decode()
    settings.WUYE_VISIT_PHOTO_MAX_BYTES = 10 * 1024 * 1024
    r = client.post(f"/casework/units/{unit.pk}/visit/", {
        "outcome": "notice_left", "photo": SimpleUploadedFile("x.jpg", b"<html>not a photo</html>")})
    assert "只接受 JPG 或 PNG" in r.content.decode()
    assert VisitPhoto.objects.count() == 1


def test_a_photo_of_another_territory_is_not_shown(unit, bob_territory, make_user):
    run(dt.date(2026, 2, 20))
    services.visit_record(actor=bob_territory, unit=unit, outcome="not_home",
                          photo=SimpleUploadedFile("a.png", png()))
    from django.test import Client

    other = make_user("zed", "collector")
    c = Client()
    c.force_login(other)
    assert c.get(f"/casework/photos/{VisitPhoto.objects.get().pk}/").status_code == 404


def test_the_away_class_is_never_sent_to_the_door(arrears_estate, bob_territory):
    away, other = arrears_estate["units"][0], arrears_estate["units"][1]
    run(dt.date(2026, 2, 20))
    services.contact_record(actor=bob_territory, unit=away, channel="call", outcome="away",
                            on=dt.date(2026, 2, 21))
    run(dt.date(2026, 5, 20), dt.date(2026, 6, 15))
    assert Action.objects.filter(unit=other, channel="visit").exists()  # the ladder visits at 3 months
    assert not Action.objects.filter(unit=away, channel="visit").exists()
    assert klass(away) == "away"


def test_an_away_outcome_closes_the_open_visit_tasks(unit, bob_territory):
    run(dt.date(2026, 2, 20))
    task = Task.objects.create(project=unit.project, unit=unit, kind="visit", title="上门沟通",
                               due_on=timezone.localdate(), assigned_to=bob_territory)
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away")
    task.refresh_from_db()
    assert task.status == "done" and "不上门" in task.close_note


def test_a_one_tap_outcome_is_undone_as_a_correction(unit, bob_territory, client, make_user):
    run(dt.date(2026, 2, 20))
    services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="away")
    task = Task.objects.create(project=unit.project, unit=unit, kind="call", title="电话催缴",
                               due_on=timezone.localdate(), assigned_to=bob_territory)
    client.force_login(bob_territory)
    r = client.post(f"/casework/units/{unit.pk}/quick/", {"outcome": "no_answer", "task": task.pk})
    assert r.status_code == 200 and "撤销" in r.content.decode()
    tapped = ContactAttempt.objects.get(outcome="no_answer")
    assert klass(unit) == "undecided"
    task.refresh_from_db()
    assert task.status == "done"
    # someone else cannot undo it
    other = make_user("erin2", "collector")
    with pytest.raises(PermissionDenied):
        services.contact_undo(actor=other, attempt=tapped)
    r = client.post(f"/casework/contacts/{tapped.pk}/undo/")
    assert r.status_code == 200 and "已撤销" in r.content.decode()
    undo = ContactAttempt.objects.get(corrects=tapped)
    assert undo.outcome == "undone" and undo.made_by == bob_territory
    assert ContactAttempt.objects.filter(pk=tapped.pk, outcome="no_answer").exists()  # the tap stays on record
    assert klass(unit) == "away"  # the class it replaced is back
    task.refresh_from_db()
    assert task.status == "open"  # the task it answered is open again
    r = client.post(f"/casework/contacts/{tapped.pk}/undo/")
    assert r.status_code == 400  # once
    # only a one-tap outcome, and only for a while
    promise = services.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="busy")
    ContactAttempt.objects.filter(pk=promise.pk).update(made_at=timezone.now() - dt.timedelta(hours=2))
    promise.refresh_from_db()
    with pytest.raises(ValidationError):
        services.contact_undo(actor=bob_territory, attempt=promise)


def test_the_case_page_shows_the_debtors_periods_phone_and_talking_points(unit, bob_territory, client,
                                                                        django_assert_max_num_queries):
    run(dt.date(2026, 2, 20))
    client.force_login(bob_territory)
    client.get(f"/casework/units/{unit.pk}/")
    for outcome in ("not_home", "vacant", "met"):  # more contacts and photos do not cost more queries
        services.visit_record(actor=bob_territory, unit=unit, outcome=outcome, relationship="spouse",
                              photo=SimpleUploadedFile("a.png", png()))
    with django_assert_max_num_queries(30):  # measured: 26 (SQLite)
        page = client.get(f"/casework/units/{unit.pk}/").content.decode()
    with django_assert_max_num_queries(30):
        assert client.get(f"/portal-admin/doorstep/{unit.pk}/").status_code == 200
    assert "欠费明细（按账期）" in page and "2026年1月" in page and "2026年7月" in page
    assert "138****0001" in page and "13800000001" not in page  # masked, one tap to call
    assert f"/portal-admin/doorstep/{unit.pk}/" in page and "记录上门" in page
    assert "¥1,253.00" in page or "未缴" in page
