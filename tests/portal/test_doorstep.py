"""Payment on the doorstep: the debtor's pay link as a QR code, sent in one tap under the rules every arrears
message obeys (contact hours, the cap, guardrails, holds, the outbox's evidence), and transfers recorded at the
door that finance confirms (posted through billing) or rejects."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from wuye.accounts.models import AuditEvent
from wuye.billing.models import Bill, Payment
from wuye.dunning import cycles
from wuye.dunning.engine import dunning_run
from wuye.dunning.manual import pay_link_message_send
from wuye.dunning.models import Action, CollectionSettings
from wuye.estate.models import ContactPoint
from wuye.portal import field
from wuye.portal.models import FieldPayment

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def outbox(tmp_path, settings):
    settings.WUYE_OUTBOX_DIR = tmp_path / "outbox"
    settings.WUYE_CHANNEL_BACKENDS = {"sms": "file", "wechat": "file", "email": "file"}
    return tmp_path / "outbox"


@pytest.fixture
def unit(arrears_estate, bob_territory):
    dunning_run(as_of=dt.date(2026, 2, 20))
    return arrears_estate["units"][0]


def mobile(unit):
    return ContactPoint.objects.get(party__occupancies__unit=unit, kind="mobile")


def weekday_at(hour: int) -> dt.datetime:
    """The last working weekday (Mon–Fri) at ``hour`` Beijing time (the calendar covers 2026)."""
    from wuye.dunning.calendar import Calendar

    day, cal = timezone.localdate(), Calendar()
    while not cal.is_working_day(day):
        day -= dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour, 5), tzinfo=SH)


def sent_lines(outbox):
    return [json.loads(line) for f in sorted(outbox.glob("*")) for line in f.read_text().splitlines()] \
        if outbox.exists() else []


def test_the_pay_link_goes_out_in_one_tap_as_an_arrears_message(unit, bob_territory, outbox):
    contact = mobile(unit)
    party = contact.party_id
    link = field.doorstep_link(actor=bob_territory, unit=unit, party_id=party, periods=["2026-01-01"])
    assert "/p/" in link and link.endswith("?periods=2026-01-01")
    assert field.doorstep_link(actor=bob_territory, unit=unit, party_id=party) == link.split("?")[0]  # the day's
    before = Action.objects.count()
    action = pay_link_message_send(actor=bob_territory, unit=unit, party_id=party, contact=contact, channel="sms",
                                   link=link, now=weekday_at(10))
    assert Action.objects.count() == before + 1
    assert action.status == "sent" and action.address == contact.value and link in action.content
    assert action.periods and action.periods[0] == "2026-01-01" and action.assigned_to == bob_territory
    assert cycles.kind_of(action.cycle) == cycles.Kind.PAY_LINK
    assert cycles.counts_towards_message_cap(action.cycle, action.channel)  # counted by the cap
    assert action.events.count() == 2 and action.content_sha256
    assert [m["body"] for m in sent_lines(outbox)] == [action.content]
    assert AuditEvent.objects.filter(verb="dunning.pay_link_send", object_id=str(unit.pk)).count() == 1
    # the cap: a second one the same day is refused and nothing is written
    with pytest.raises(ValidationError) as exc:
        pay_link_message_send(actor=bob_territory, unit=unit, party_id=party, contact=contact, channel="sms",
                              link=link, now=weekday_at(11))
    assert "间隔" in str(exc.value) and Action.objects.count() == before + 1
    # and the ladder's next arrears message waits for it too
    from wuye.dunning.manual import message_cap_free_at

    free_at = message_cap_free_at(unit=unit, party_id=party, now=weekday_at(12))
    assert free_at is not None and (free_at - weekday_at(10)).days == 14


def test_no_link_is_sent_outside_contact_hours_nor_to_a_number_not_on_record(unit, bob_territory, outbox):
    contact = mobile(unit)
    with pytest.raises(ValidationError) as exc:
        pay_link_message_send(actor=bob_territory, unit=unit, party_id=contact.party_id, contact=contact,
                              channel="sms", link="http://x/p/abc/", now=weekday_at(21))
    assert "联系时段" in str(exc.value)
    someone_else = ContactPoint.objects.filter(kind="mobile").exclude(party_id=contact.party_id).first()
    with pytest.raises(ValidationError) as exc:
        pay_link_message_send(actor=bob_territory, unit=unit, party_id=contact.party_id, contact=someone_else,
                              channel="sms", link="http://x/p/abc/", now=weekday_at(10))
    assert "contact" in exc.value.message_dict
    with pytest.raises(ValidationError):  # an SMS goes to a mobile, WeChat to a WeChat id
        pay_link_message_send(actor=bob_territory, unit=unit, party_id=contact.party_id, contact=contact,
                              channel="wechat", link="http://x/p/abc/", now=weekday_at(10))
    assert not Action.objects.filter(cycle__startswith="M").exists() and sent_lines(outbox) == []


def test_the_guardrails_and_a_dispute_stop_a_hand_sent_link(unit, bob_territory, outbox):
    contact = mobile(unit)
    CollectionSettings.objects.update_or_create(project=unit.project, defaults={"company_name": "欠费停水停电物业"})
    with pytest.raises(ValidationError) as exc:
        pay_link_message_send(actor=bob_territory, unit=unit, party_id=contact.party_id, contact=contact,
                              channel="sms", link="http://x/p/abc/", now=weekday_at(10))
    assert "停水" in str(exc.value) or "停电" in str(exc.value)
    CollectionSettings.objects.filter(project=unit.project).update(company_name="")
    from wuye.casework import services as casework

    casework.contact_record(actor=bob_territory, unit=unit, channel="call", outcome="refused", reason="service",
                            note="电梯常坏", on=weekday_at(10).date())
    with pytest.raises(ValidationError) as exc:
        pay_link_message_send(actor=bob_territory, unit=unit, party_id=contact.party_id, contact=contact,
                              channel="sms", link="http://x/p/abc/", now=weekday_at(10))
    assert "暂停催缴" in str(exc.value)
    assert sent_lines(outbox) == []


def test_the_doorstep_page_shows_the_qr_and_sends_from_a_tap(unit, bob_territory, client, outbox, settings):
    client.force_login(bob_territory)
    page = client.get(f"/portal-admin/doorstep/{unit.pk}/?period=2026-01-01&period=2026-02-01")
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="pay-qr"' in body and "data:image/png;base64," in body
    assert "periods=2026-01-01%2C2026-02-01" in body or "periods=2026-01-01,2026-02-01" in body
    assert "¥358.00" in body or "358.00" in body  # two months of 179.00
    assert "138****0001" in body and "13800000001" not in body



def test_the_unit_page_leads_to_the_doorstep_for_those_who_take_payment_there(unit, bob_territory, dave, make_user,
                                                                               client):
    """客服 has no worklist: the unit page is where they find the QR and the pay link (issue 17, item 1)."""
    for user in (bob_territory, dave):
        client.force_login(user)
        body = client.get(f"/estate/units/{unit.pk}/").content.decode()
        assert f'href="/portal-admin/doorstep/{unit.pk}/"' in body and 'data-testid="doorstep-qr"' in body, user
        assert f'href="/portal-admin/doorstep/{unit.pk}/#field-payment"' in body
        assert client.get(f"/portal-admin/doorstep/{unit.pk}/").status_code == 200
    client.force_login(make_user("cai", "finance"))  # finance takes money at the desk, not at the door
    body = client.get(f"/estate/units/{unit.pk}/").content.decode()
    assert 'data-testid="doorstep-actions"' not in body

def test_roles_without_doorstep_work_get_a_chinese_refusal(unit, make_user, client):
    engineer = make_user("gong", "engineering")
    client.force_login(engineer)
    r = client.get(f"/portal-admin/doorstep/{unit.pk}/")
    assert r.status_code == 403
    with pytest.raises(PermissionDenied):
        field.doorstep_link(actor=engineer, unit=unit, party_id=None)


def test_a_transfer_recorded_at_the_door_is_posted_only_when_finance_confirms(unit, bob_territory, make_user):
    finance = make_user("cai", "finance")
    party = mobile(unit).party_id
    jan = [b.pk for b in Bill.objects.filter(unit=unit, period_start=dt.date(2026, 1, 1))]
    today = timezone.localdate()
    row = field.field_payment_record(actor=bob_territory, unit=unit, party_id=party, amount_fen=17_900,
                                     method="wechat", reference="4200001234202612040001", paid_on=today,
                                     bill_ids=jan)
    assert row.status == "pending" and not Payment.objects.exists()
    with pytest.raises(ValidationError) as exc:  # a reference once
        field.field_payment_record(actor=bob_territory, unit=unit, party_id=party, amount_fen=100, method="wechat",
                                   reference="4200001234202612040001", paid_on=today)
    assert "reference" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        field.field_payment_record(actor=bob_territory, unit=unit, party_id=party, amount_fen=100, method="wechat",
                                   reference="X1", paid_on=today + dt.timedelta(days=1))
    assert "paid_on" in exc.value.message_dict
    with pytest.raises(PermissionDenied):  # a collector does not post money
        field.field_payment_confirm(actor=bob_territory, field_payment=row)
    payment = field.field_payment_confirm(actor=finance, field_payment=row, note="微信商户后台已到账")
    row.refresh_from_db()
    assert row.status == "confirmed" and row.payment == payment and row.decided_by == finance
    assert payment.amount_fen == 17_900 and payment.reference == "4200001234202612040001"
    assert payment.method == "wechat" and payment.receipt_no
    assert all(b.settled_fen == b.amount_fen for b in Bill.objects.filter(pk__in=jan))
    with pytest.raises(ValidationError):
        field.field_payment_confirm(actor=finance, field_payment=row)
    other = field.field_payment_record(actor=bob_territory, unit=unit, party_id=party, amount_fen=5_000,
                                       method="transfer", reference="BANK-778", paid_on=today)
    with pytest.raises(ValidationError):
        field.field_payment_reject(actor=finance, field_payment=other, note="")
    field.field_payment_reject(actor=finance, field_payment=other, note="对公账户未见此笔")
    other.refresh_from_db()
    assert other.status == "rejected" and other.payment is None and Payment.objects.count() == 1
    assert FieldPayment.objects.count() == 2



def test_a_refused_transfer_says_why_beside_its_field_and_records_nothing(unit, bob_territory, client):
    """The form sits at the foot of the doorstep page: its errors stand by their fields there, not in a message at
    the top of a page that was scrolled to the form."""
    party = mobile(unit).party_id
    client.force_login(bob_territory)
    url = f"/portal-admin/doorstep/{unit.pk}/payment/"
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    r = client.post(url, {"party": party, "amount": "179.00", "method": "wechat", "reference": "",
                          "paid_on": tomorrow})
    body = r.content.decode()
    assert r.status_code == 400 and 'data-testid="pay-qr"' in body
    assert 'data-testid="error-reference"' in body and "请填写转账流水号" in body
    r = client.post(url, {"party": party, "amount": "179.00", "method": "wechat", "reference": "4200000001",
                          "paid_on": tomorrow})
    body = r.content.decode()
    assert r.status_code == 400 and 'data-testid="error-paid_on"' in body and "转账日期不能晚于今天" in body
    assert 'value="4200000001"' in body  # what was typed stays
    assert FieldPayment.objects.count() == 0
    r = client.post(url, {"party": party, "amount": "179.00", "method": "wechat", "reference": "4200000001",
                          "paid_on": timezone.localdate().isoformat()})
    assert r.status_code == 302 and FieldPayment.objects.count() == 1

def test_finance_confirms_on_its_page(unit, bob_territory, make_user, client):
    finance = make_user("cai", "finance")
    row = field.field_payment_record(actor=bob_territory, unit=unit, party_id=mobile(unit).party_id,
                                     amount_fen=17_900, method="alipay", reference="2026120422001",
                                     paid_on=timezone.localdate())
    client.force_login(bob_territory)
    assert client.get("/portal-admin/field-payments/").status_code == 403
    client.force_login(finance)
    page = client.get("/portal-admin/field-payments/").content.decode()
    assert "2026120422001" in page and "¥179.00" in page
    r = client.post("/portal-admin/field-payments/", {"field_payment": row.pk, "decision": "confirm"})
    assert r.status_code == 302
    row.refresh_from_db()
    assert row.status == "confirmed" and row.payment.receipt_no
