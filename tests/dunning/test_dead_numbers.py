"""An account whose only number is flagged dead (空号/停机/错号) gets one visit to find a new number
(domain.md, 无法联系类), not a failed SMS and an unanswerable call every week."""

import datetime as dt

import pytest

from wuye.dunning.choices import ActionStatus, TaskKind
from wuye.dunning.dispatch import DEAD_END_DONE, DEAD_END_VISIT
from wuye.dunning.engine import dunning_run
from wuye.dunning.models import Action, Task
from wuye.estate.models import ContactPoint
from wuye.estate.services import contact_set_validity

from .conftest import dispatch_on

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def dead(arrears_estate, tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    unit = arrears_estate["units"][0]
    contact = ContactPoint.objects.get(party__occupancies__unit=unit, kind="mobile")
    contact_set_validity(actor=None, contact=contact, validity="empty", verified_on=D(2026, 1, 10),
                         actor_label="test")
    return unit


def test_the_overdue_sms_to_a_dead_number_becomes_one_visit_and_later_contacts_are_not_tried(dead):
    dunning_run(as_of=D(2026, 1, 16))
    assert Action.objects.filter(unit=dead, channel="sms").exists()
    result = dispatch_on(D(2026, 1, 16))
    assert result.rerouted >= 1
    sms = Action.objects.get(unit=dead, channel="sms")
    assert sms.status == ActionStatus.CANCELLED and sms.last_error == DEAD_END_VISIT and sms.sent_at is None
    visit = Task.objects.get(unit=dead, kind=TaskKind.VISIT, status="open")
    assert visit.action_id == sms.pk and "号码已失效" in visit.title and "逾期短信" in visit.detail
    # the next days: whatever the ladder decides by phone or message for this account is not tried while the
    # visit is open, and no second visit is made
    for day in (D(2026, 1, 19), D(2026, 1, 20), D(2026, 1, 26), D(2026, 2, 2)):
        dunning_run(as_of=day)
        dispatch_on(day)
    later = Action.objects.filter(unit=dead, channel__in=["sms", "call", "wechat"]).exclude(pk=sms.pk)
    assert later.exists()
    assert not later.filter(status__in=[ActionStatus.SENT, ActionStatus.FAILED]).exists(), \
        list(later.values_list("channel", "status", "last_error"))
    assert later.filter(status=ActionStatus.CANCELLED, last_error=DEAD_END_DONE).exists()
    assert Task.objects.filter(unit=dead, kind=TaskKind.CALL).count() == 0
    assert Task.objects.filter(unit=dead, kind=TaskKind.VISIT, action__channel__in=["sms", "call"]).count() == 1


def test_a_new_number_found_on_the_visit_is_used_again(alice, dead):
    from wuye.estate.choices import ContactKind, ContactSource
    from wuye.estate.services import contact_add

    dunning_run(as_of=D(2026, 1, 16))
    dispatch_on(D(2026, 1, 16))
    party = ContactPoint.objects.get(party__occupancies__unit=dead, kind="mobile").party
    contact_add(actor=alice, party=party, kind=ContactKind.MOBILE, value="13912345678",
                source=ContactSource.VISIT if hasattr(ContactSource, "VISIT") else ContactSource.HANDOVER,
                is_primary=True)
    for day in (D(2026, 2, 2), D(2026, 2, 3)):
        dunning_run(as_of=day)
        dispatch_on(day)
    went = Action.objects.filter(unit=dead, status=ActionStatus.SENT, channel__in=["sms", "call"])
    assert went.exists()
    assert set(went.filter(channel="sms").values_list("address", flat=True)) <= {"13912345678"}
