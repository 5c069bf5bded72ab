"""Choices of casework: contact channels and outcomes, dispute reasons, statuses."""

from django.db import models

from wuye.dunning.choices import AccountClass


class ContactChannel(models.TextChoices):
    CALL = "call", "电话"
    VISIT = "visit", "上门"
    WECHAT = "wechat", "微信"
    DESK = "desk", "服务台"


class Outcome(models.TextChoices):
    """联系结果 — what came of one call, visit or conversation."""

    NO_ANSWER = "no_answer", "无人接听"
    BUSY = "busy", "占线"
    SWITCHED_OFF = "switched_off", "关机"
    DEAD_NUMBER = "dead_number", "空号/错号"
    PROMISED = "promised", "承诺缴费"
    PAID_ALREADY = "paid_already", "称已缴费"
    REFUSED = "refused", "拒绝缴费"
    AWAY = "away", "人在外地"
    INSTALLMENT = "installment", "申请分期"
    DISPUTE = "dispute", "投诉/争议"
    # at the door (a visit)
    MET = "met", "见到业主/家人"
    NOT_HOME = "not_home", "不在家"
    NOTICE_LEFT = "notice_left", "已张贴/塞门通知"
    DOOR_REFUSED = "door_refused", "拒绝开门"
    VACANT = "vacant", "房屋空置"
    MOVED_OUT = "moved_out", "已搬走"
    UNDONE = "undone", "撤销误记"


# outcome → the class it puts the account in ("" leaves the class as it is)
CLASS_OF_OUTCOME: dict[str, str] = {
    Outcome.NO_ANSWER: AccountClass.UNDECIDED,
    Outcome.BUSY: AccountClass.UNDECIDED,
    Outcome.SWITCHED_OFF: AccountClass.UNDECIDED,
    Outcome.DEAD_NUMBER: AccountClass.UNREACHABLE,
    Outcome.PROMISED: AccountClass.PROMISED,
    Outcome.PAID_ALREADY: "",
    Outcome.REFUSED: AccountClass.REFUSING,
    Outcome.AWAY: AccountClass.AWAY,
    Outcome.INSTALLMENT: "",
    Outcome.DISPUTE: AccountClass.REFUSING,
    # a visit that found nobody, or left a notice, says nothing new about the debtor: the class stays
    Outcome.MET: "",
    Outcome.NOT_HOME: "",
    Outcome.NOTICE_LEFT: "",
    Outcome.DOOR_REFUSED: "",
    Outcome.VACANT: "",
    Outcome.MOVED_OUT: AccountClass.UNREACHABLE,  # find where they went: new contacts, neighbours, records
    Outcome.UNDONE: "",  # an undo puts back the class the undone record replaced (services.contact_undo)
}

# what a visit can come to (the visit form offers these, never a call's outcomes)
VISIT_OUTCOMES = (Outcome.MET, Outcome.NOT_HOME, Outcome.NOTICE_LEFT, Outcome.DOOR_REFUSED, Outcome.VACANT,
                  Outcome.MOVED_OUT)
# what only a phone call can come to
CALL_ONLY_OUTCOMES = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.SWITCHED_OFF, Outcome.DEAD_NUMBER})


class Relationship(models.TextChoices):
    """Who the collector met at the door (domain.md: who signed — owner, adult household member …)."""

    OWNER = "owner", "业主本人"
    SPOUSE = "spouse", "配偶"
    CHILD = "child", "子女"
    PARENT = "parent", "父母"
    RELATIVE = "relative", "其他家人"
    TENANT = "tenant", "租户"
    OTHER = "other", "其他人员"

# outcomes that need nothing but a tap (no date, amount or reason)
QUICK_OUTCOMES = (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.SWITCHED_OFF, Outcome.AWAY)
# outcomes that need a reason and open a dispute
DISPUTE_OUTCOMES = frozenset({Outcome.REFUSED, Outcome.DISPUTE})


class DisputeReason(models.TextChoices):
    """拒交/争议原因."""

    SERVICE = "service", "服务质量"
    HOUSE_QUALITY = "house_quality", "房屋质量/漏水"
    NEIGHBOUR = "neighbour", "邻里纠纷"
    THEFT = "theft", "失窃/车辆受损"
    SHARED_UTILITIES = "shared_utilities", "公摊水电分摊"
    FEE_LEVEL = "fee_level", "收费标准"
    HARDSHIP = "hardship", "经济困难"
    OTHER = "other", "其他"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "处理中"
    RESOLVED = "resolved", "已解决"


class WorkOrderStatus(models.TextChoices):
    OPEN = "open", "待处理"
    IN_PROGRESS = "in_progress", "处理中"
    DONE = "done", "已完成"
    CANCELLED = "cancelled", "已取消"


WORK_ORDER_CLOSED = frozenset({WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED})


class CheckStatus(models.TextChoices):
    OPEN = "open", "待财务核对"
    FOUND = "found", "已找到款项"
    NOT_FOUND = "not_found", "未找到款项"
