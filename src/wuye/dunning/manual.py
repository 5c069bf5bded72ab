"""A message a person sends by hand in one tap — the pay link a collector sends to an owner at the door or on
the phone (“我可以把缴费链接发到您手机上”).

It is an arrears message like any the ladder sends, so it goes into the outbox as an ``Action`` (cycle kind
``PAY_LINK``, ``cycles.pay_link``) and keeps everything the outbox keeps as evidence (text, its hash, the
periods it names, where it went, the gateway's id, delivery receipts, the hash chain); and it obeys the same
rules, checked here before anything goes out:

- only to a live contact point of the debtor it is about (their mobile for SMS, their WeChat for WeChat);
- inside the project's message window and the hard bounds 08:00–21:00, on a day the calendar covers;
- the arrears-message cap (``CollectionSettings.arrears_message_min_days``): it counts towards it
  (``cycles.counts_towards_message_cap``) and is refused while a message of the account is within it;
- not while a dispute or a manual hold stops the ladder (a promise does not: the owner asked for the link);
- the rendered text passes the guardrails for its channel.

The step it hangs on belongs to a policy of its own per project (「手工发送」, never active: the daily run
does not read it); its templates are ordinary message templates that a manager edits like any other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.models import Bill
from wuye.common.formatting import format_yuan
from wuye.dunning import calendar as workcal
from wuye.dunning import cycles
from wuye.dunning.choices import (
    MESSAGE_CHANNELS,
    ActionStatus,
    Assignee,
    Channel,
    HoldKind,
    StepKind,
    WindowGroup,
)
from wuye.dunning.dispatch import CONTACT_KIND, lock_accounts, render
from wuye.dunning.guardrails import assert_clean
from wuye.dunning.models import (
    Action,
    ActionEvent,
    CollectionSettings,
    Episode,
    Hold,
    MessageTemplate,
    Policy,
    Step,
)
from wuye.estate.choices import DEAD_VALIDITIES
from wuye.estate.models import ContactPoint, Unit
from wuye.notify.base import Message, Outcome, backend_for

POLICY_NAME = "手工发送"
SEND_CHANNELS = (Channel.SMS, Channel.WECHAT)
TEMPLATES = {
    Channel.SMS: ("manual_pay_link_sms", "手工发送缴费链接（短信）",
                  "{company}：{unit} 物业费账单及在线缴费链接 {link} ，可选择账期缴费。[如有疑问请致电 {phone}。]"),
    Channel.WECHAT: ("manual_pay_link_wechat", "手工发送缴费链接（微信）",
                     "{company}：您好，{unit} 的物业费账单及在线缴费链接：{link} 。打开即可查看明细并选择账期缴费。"
                     "[如有疑问请致电 {phone}。]"),
}


def _template(project_id: int, channel: str) -> MessageTemplate:
    code, name, body = TEMPLATES[channel]
    own = MessageTemplate.objects.filter(project_id=project_id, code=code).first()
    if own is not None:
        return own
    template, _ = MessageTemplate.objects.get_or_create(project=None, code=code,
                                                        defaults={"name": name, "channel": channel, "body": body})
    return template


def manual_step(project_id: int, channel: str) -> Step:
    """The step a hand-sent message of ``channel`` hangs on (made on first use)."""
    policy = Policy.objects.filter(project_id=project_id, name=POLICY_NAME, active=False).order_by("pk").first()
    if policy is None:
        policy = Policy.objects.create(project_id=project_id, name=POLICY_NAME, active=False,
                                       note="收费员一键发送缴费链接等手工消息的记录，不参与每日催缴。")
    step = policy.steps.filter(channel=channel).order_by("pk").first()
    if step is None:
        step = Step.objects.create(policy=policy, order=0, name=f"手工发送缴费链接（{Channel(channel).label}）",
                                   kind=StepKind.EVENT, channel=channel, template=_template(project_id, channel),
                                   assignee=Assignee.COLLECTOR, active=False)
    return step


def _last_message_at(unit_id: int, party_id: int | None, since: dt.datetime, since_day: dt.date):
    """The latest arrears message of the account (sent, on its way, or decided and still to go) since then.
    One a dispatcher is sending now (``sending``) or sent with its outcome unknown (``uncertain``) counts
    from when it was claimed, however long ago it was decided."""
    in_flight = [ActionStatus.SENDING, ActionStatus.UNCERTAIN]
    rows = (Action.objects.filter(unit_id=unit_id, channel__in=list(MESSAGE_CHANNELS))
            .filter(Q(party_id=party_id) | Q(party__isnull=True))
            .exclude(status__in=[ActionStatus.CANCELLED, ActionStatus.FAILED])
            .filter(Q(sent_at__gte=since) | Q(sent_at__isnull=True, decided_on__gte=since_day)
                    | Q(sent_at__isnull=True, status__in=in_flight))
            .values_list("cycle", "channel", "sent_at", "decided_on", "not_before", "status", "claimed_at"))
    latest = None
    for cycle, channel, sent_at, _decided, not_before, status, claimed_at in rows:
        if not cycles.counts_towards_message_cap(cycle, channel):
            continue
        when = sent_at or (max(claimed_at or not_before, not_before) if status in in_flight else not_before)
        if latest is None or when > latest:
            latest = when
    return latest


def message_cap_free_at(*, unit: Unit, party_id: int | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the account may get its next arrears message (None: now)."""
    now = now or timezone.now()
    rules = CollectionSettings.objects.filter(project_id=unit.project_id).first() or CollectionSettings()
    days = dt.timedelta(days=rules.arrears_message_min_days)
    last = _last_message_at(unit.pk, party_id, now - days, timezone.localdate(now - days))
    return last + days if last is not None and last + days > now else None


def window_check(project, now: dt.datetime) -> None:
    """Refuse outside the message window of the project (and the hard bounds), naming the next opening."""
    cal = workcal.Calendar()
    local = workcal.local_now(now, project.timezone)
    window = workcal.windows_for(project.pk)[WindowGroup.MESSAGE]
    try:
        if workcal.within_hard_bounds(local) and window.contains(cal, local):
            return
        opening = window.next_opening(cal, local)
    except workcal.UncoveredDate as exc:
        raise ValidationError({"channel": f"{exc}：节假日安排未录入，暂不能发送消息。"}) from exc
    raise ValidationError({"channel": f"现在不在短信/微信联系时段内，{opening:%m月%d日 %H:%M} 起可以发送；"
                                      "业主在场时可出示二维码扫码缴费。"})


@transaction.atomic
def pay_link_message_send(
    *, actor: User, unit: Unit, party_id: int | None, contact: ContactPoint, channel: str, link: str,
    now: dt.datetime | None = None,
) -> Action:
    """Send ``link`` (the debtor's pay link) to ``contact`` by ``channel`` now; returns the outbox row.
    Raises ``ValidationError`` (by field) when a rule forbids it; nothing is written then."""
    now = now or timezone.now()
    project = unit.project
    errors: dict[str, str] = {}
    if channel not in SEND_CHANNELS:
        errors["channel"] = "请选择短信或微信。"
    elif contact.party_id != party_id:
        errors["contact"] = "该联系方式不属于这位欠费人。"
    elif contact.kind != CONTACT_KIND[channel]:
        errors["contact"] = f"{Channel(channel).label}只能发往{'手机号码' if channel == Channel.SMS else '微信'}。"
    elif contact.validity in DEAD_VALIDITIES:
        errors["contact"] = f"该号码已标记为“{contact.get_validity_display()}”，不能发送。"
    if not link:
        errors["link"] = "没有可用的缴费链接（今天的链接已撤销）。"
    if errors:
        raise ValidationError(errors)
    window_check(project, now)
    today = workcal.local_now(now, project.timezone).date()
    holds = Hold.objects.filter(unit=unit, released_on__isnull=True, kind__in=[HoldKind.DISPUTE, HoldKind.MANUAL],
                                starts_on__lte=today).filter(Q(party_id=party_id) | Q(party__isnull=True))
    hold = holds.filter(Q(until__isnull=True) | Q(until__gte=today) | Q(kind=HoldKind.DISPUTE)).first()
    if hold is not None:
        raise ValidationError({"channel": f"该户暂停催缴（{hold.get_kind_display()}：{hold.reason}），不发送消息。"})
    # the dispatcher's per-account claim (advisory lock on PostgreSQL, the write lock on SQLite): no dispatcher
    # and no other hand-sent message decides for this account until this one is recorded
    lock_accounts({(unit.pk, party_id)})
    free_at = message_cap_free_at(unit=unit, party_id=party_id, now=now)
    if free_at is not None:
        local = workcal.local_now(free_at, project.timezone)
        raise ValidationError({"channel": f"距上条欠费消息不足规定间隔，{local:%m月%d日 %H:%M} 后才能再发；"
                                          "业主在场时可出示二维码扫码缴费。"})
    lines = Bill.objects.filter(unit=unit, party_id=party_id, is_void=False, settled_fen__lt=F("amount_fen"))
    open_fen = sum(a - s for a, s in lines.values_list("amount_fen", "settled_fen"))
    if open_fen <= 0:
        raise ValidationError({"channel": "这位欠费人在该房屋没有待缴费用。"})
    overdue = lines.filter(due_date__lt=today)
    periods = sorted({d.isoformat() for d in overdue.values_list("period_start", flat=True)})
    overdue_fen = sum(a - s for a, s in overdue.values_list("amount_fen", "settled_fen"))
    rules = CollectionSettings.objects.filter(project=project).first() or CollectionSettings(project=project)
    step = manual_step(project.pk, channel)
    template = step.template or _template(project.pk, channel)
    text = render(template.body, {"company": rules.company_name or project.name, "unit": f"{project.name}{unit.code}",
                                  "link": link, "amount": format_yuan(open_fen), "phone": rules.service_phone or ""})
    text = text.strip()
    assert_clean(text, channel=channel, field="channel")
    episode = Episode.objects.filter(unit=unit, party_id=party_id, closed_on__isnull=True).first()
    label = f"user:{actor.username}"
    local_now = workcal.local_now(now, project.timezone)
    action = Action.objects.create(
        project=project, unit=unit, party_id=party_id, step=step, cycle=cycles.pay_link(local_now, party_id),
        episode=episode, decided_on=today, channel=channel, stage=0, not_before=now, status=ActionStatus.SENDING,
        attempts=1, claimed_at=now, claimed_by=f"manual:{actor.pk}", out_id="wm" + uuid.uuid4().hex[:30],
        overdue_fen=overdue_fen, periods=periods, template_version=template.version, content=text,
        content_sha256=hashlib.sha256(text.encode()).hexdigest(), address=contact.value, assigned_to=actor,
        actor_label=label)
    ActionEvent.objects.create(action=action, at=now, status=ActionStatus.SENDING, detail="收费员一键发送缴费链接",
                               actor_label=label)
    backend = backend_for(channel)
    try:
        result = backend.send(Message(channel=channel, to=contact.value, body=text, out_id=action.out_id,
                                      template_id=template.provider_template_id, sign_name=rules.sms_signature,
                                      params=(unit.code, format_yuan(open_fen), link)))
    finally:
        backend.close()
    action.provider = backend.name
    action.provider_message_id = result.provider_message_id[:100]
    if result.outcome == Outcome.SENT:
        action.status, action.sent_at, detail = ActionStatus.SENT, now, result.detail or "平台已受理"
    elif result.outcome == Outcome.UNCERTAIN:
        action.status, detail = ActionStatus.UNCERTAIN, (result.detail or "发送超时") + "；平台无法确认是否已发出，请勿重复发送"
    else:
        action.status, detail = ActionStatus.FAILED, result.detail or "发送失败"
        action.last_error = detail[:300]
    action.save(update_fields=["status", "sent_at", "provider", "provider_message_id", "last_error"])
    ActionEvent.objects.create(action=action, at=now, status=action.status, detail=detail[:300], actor_label=label)
    audit_record(actor=actor, verb="dunning.pay_link_send", obj=unit, note=f"{Channel(channel).label} → {contact.pk}",
                 after={"action": action.pk, "channel": channel, "contact": contact.pk, "party": party_id,
                        "status": action.status, "content_sha256": action.content_sha256})
    return action
