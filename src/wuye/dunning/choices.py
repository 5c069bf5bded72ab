from django.db import models


class Segment(models.TextChoices):
    """催缴分群 — each segment may get its own ladder (domain.md, "The collection ladder")."""

    RESIDENTIAL = "residential", "自住住宅"
    VACANT = "vacant", "空置/投资房"
    SHOP_VILLA = "shop_villa", "商铺与别墅"
    OFFICE = "office", "写字楼租户"
    HARDSHIP = "hardship", "困难户"
    ELSEWHERE = "elsewhere", "常住异地"


class StepKind(models.TextChoices):
    PRE_DUE = "pre_due", "到期前提醒（距缴费截止日天数）"
    OVERDUE = "overdue", "逾期阈值（天数/月数/金额，满足其一）"
    AFTER_PREVIOUS = "after_previous", "距上一步天数"
    EVENT = "event", "事件"


# Who may sign for a written demand so that it counts as reaching the debtor (诉讼时效规定 8; decision 131). A
# notice handed over counts when the debtor signs, or an adult family member living with them, an agent they
# named, or a company debtor's reception/designated recipient (as 民事诉讼法 88 lets them receive a court's
# papers). A letter sent to the debtor's address counts once it arrived there, whoever signed for it at the
# address. A guard, a neighbour or the property office signing for a notice is not delivery to the debtor.
SIGNER_RELATIONS = ("本人", "同住成年家属", "受托人", "公司前台/指定人员")
ADDRESS_RECEIVER = "收件地址代收（门卫、驿站等）"
MAIL_SIGNER_RELATIONS = (*SIGNER_RELATIONS, ADDRESS_RECEIVER)


def signer_relation_problem(relation: str, *, mail: bool) -> str:
    """The Chinese message refusing ``relation`` as a signer of a notice (``mail``: a letter), or ""."""
    allowed = MAIL_SIGNER_RELATIONS if mail else SIGNER_RELATIONS
    if relation in allowed:
        return ""
    if not relation:
        return "请选择签收人与业主的关系：" + "、".join(allowed) + "。"
    return (f"“{relation}”签收不视为送达业主本人：书面通知须由" + "、".join(SIGNER_RELATIONS)
            + "签收" + ("，邮件须送达业主的收件地址" if mail else "；他人代收的，请标记为无人签收并改为邮寄") + "。")


class Event(models.TextChoices):
    PROMISE_DUE = "promise_due", "承诺缴费日前一天"
    PROMISE_BROKEN = "promise_broken", "承诺失约"
    INSTALLMENT_MISSED = "installment_missed", "分期违约"
    PREPAID_OUT = "prepaid_out", "预存款已用完"
    SIGNER_UNREACHABLE = "signer_unreachable", "指定签收人无法送达（写字楼）"
    LIMITATION = "limitation", "诉讼时效即将届满（时效保全）"


class Channel(models.TextChoices):
    SMS = "sms", "短信"
    WECHAT = "wechat", "微信模板消息"
    EMAIL = "email", "电子邮件"
    NOTICE = "notice", "书面通知（送达签收）"
    REGISTERED = "registered", "挂号信/EMS"
    CALL = "call", "电话任务"
    VISIT = "visit", "上门任务"
    REFERRAL = "referral", "律师函转介"
    ESCALATE = "escalate", "升级至经理"


# Channels that send a message through a gateway (contact windows for messages apply).
MESSAGE_CHANNELS = frozenset({Channel.SMS, Channel.WECHAT, Channel.EMAIL})
# Channels whose words reach the owner: a step of one of them must have a template (its name is never the text).
OWNER_FACING_CHANNELS = MESSAGE_CHANNELS | {Channel.NOTICE, Channel.REGISTERED}
# Channels that become work for a person (contact windows for calls and visits apply).
PERSON_CHANNELS = frozenset({Channel.CALL, Channel.VISIT})
# Channels that produce a document or a referral; no contact window, they are work in the office.
OFFICE_CHANNELS = frozenset({Channel.NOTICE, Channel.REGISTERED, Channel.REFERRAL, Channel.ESCALATE})
# Written demands (催告): a notice handed over and signed for, or a registered letter/EMS delivered. A referral
# to a law firm needs one that reached the debtor, named the periods and whose deadline has passed.
WRITTEN_DEMAND_CHANNELS = frozenset({Channel.NOTICE, Channel.REGISTERED})


class Assignee(models.TextChoices):
    COLLECTOR = "collector", "责任区收费员"
    MANAGER = "manager", "项目经理"
    LEGAL = "legal", "法务"
    SYSTEM = "system", "系统自动发送"


class ActionStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    DELIVERED = "delivered", "已送达"
    FAILED = "failed", "失败"
    UNCERTAIN = "uncertain", "待核实（发送结果未知）"
    CANCELLED = "cancelled", "已取消"
    SUPERSEDED = "superseded", "已被后续阶段取代"
    EXPIRED = "expired", "已过期未发"
    BLOCKED = "blocked", "已拦截（内容不合规）"


# statuses of an action that never went out and never will (the engine's cap does not count them)
NEVER_SENT = (ActionStatus.CANCELLED, ActionStatus.SUPERSEDED, ActionStatus.EXPIRED, ActionStatus.BLOCKED)


class AccountClass(models.TextChoices):
    """催缴分类 of an account in arrears (domain.md, "Classifying each unpaid account"). Set by casework
    from contact outcomes (or by hand, with a reason); the engine reads it: a step may be limited to one
    class (e.g. a daily call while undecided)."""

    PROMISED = "promised", "近期交纳"
    UNDECIDED = "undecided", "暂未明确"
    UNREACHABLE = "unreachable", "无法联系"
    AWAY = "away", "异地出差"
    REFUSING = "refusing", "特殊拒交"


class HoldKind(models.TextChoices):
    MANUAL = "manual", "人工暂停"
    DISPUTE = "dispute", "争议处理中"
    PROMISE = "promise", "承诺缴费"


class HoldReason(models.TextChoices):
    """Why nothing happened for an account in arrears on a run date."""

    MANUAL = "manual", "人工暂停"
    DISPUTE = "dispute", "争议处理中"
    PROMISE = "promise", "承诺缴费未到期"
    INSTALLMENT = "installment", "分期履行中"


class DayKind(models.TextChoices):
    WORKDAY = "workday", "工作日"
    REST = "rest", "休息日"
    HOLIDAY = "holiday", "法定节假日"


class WindowDays(models.TextChoices):
    WORKDAYS = "workdays", "工作日"
    WORKDAYS_SATURDAY = "workdays_saturday", "工作日及周六"
    ALL_BUT_HOLIDAYS = "all_but_holidays", "除法定节假日外每天"


class WindowGroup(models.TextChoices):
    MESSAGE = "message", "短信/微信/邮件"
    PERSON = "person", "电话/上门"


class TaskKind(models.TextChoices):
    CALL = "call", "电话"
    VISIT = "visit", "上门"
    REFERRAL = "referral", "律师函转介"
    ESCALATE = "escalate", "升级处理"
    NOTICE = "notice", "书面通知送达"
    REGISTERED = "registered", "挂号信/EMS 寄送"


class TaskStatus(models.TextChoices):
    OPEN = "open", "待处理"
    DONE = "done", "已完成"
    CANCELLED = "cancelled", "已取消"
