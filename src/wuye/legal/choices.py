"""Choices of the legal module: interruption kinds of the limitation clock, case stages and events,
deadlines, costs, delivery proofs."""

from django.db import models


class Interruption(models.TextChoices):
    """What restarts a billing period's limitation clock (民法典 195; SPC 诉讼时效规定 arts. 8–14)."""

    MESSAGE = "message", "短信/微信/邮件催告已送达"
    LETTER = "letter", "挂号信/EMS 催告已签收"
    NOTICE = "notice", "书面催缴通知已签收"
    LAWYER_LETTER = "lawyer_letter", "律师函已送达"
    PAYMENT = "payment", "缴纳该期部分费用"
    INSTALLMENT = "installment", "分期协议"
    PROMISE = "promise", "承诺缴费"
    MEDIATION = "mediation", "申请调解"
    PAYMENT_ORDER = "payment_order", "申请支付令"
    LAWSUIT = "lawsuit", "起诉"
    PROCEEDING_END = "proceeding_end", "程序终结，重新计算"


# The debtor's agreement to pay (同意履行义务的意思表示): it counts even after the period has run out (民法典 192;
# 诉讼时效规定 art. 19). A payment after expiry does not: money is applied to the oldest open lines without the
# payer naming them (民法典 560), so it shows no agreement to pay the rest of a barred line — what was paid stays
# paid (民法典 192(2)), the remainder stays barred (decision 132). The creditor's demands and filings after expiry
# do not revive a barred line either.
ACKNOWLEDGEMENTS = frozenset({Interruption.INSTALLMENT, Interruption.PROMISE})


class ClockState(models.TextChoices):
    RUNNING = "running", "时效期间内"
    EXPIRING = "expiring", "即将届满"
    BARRED = "barred", "已过诉讼时效"


class Stage(models.TextChoices):
    """法务案件阶段, in the order a case usually moves (调解 may come at any point before court)."""

    REVIEW = "review", "审核"
    LAWYER_LETTER = "lawyer_letter", "律师函"
    MEDIATION = "mediation", "调解"
    PAYMENT_ORDER = "payment_order", "支付令申请"
    LAWSUIT = "lawsuit", "诉讼"
    ENFORCEMENT = "enforcement", "执行"
    CLOSED = "closed", "结案"


STAGE_ORDER = {s: i for i, s in enumerate(Stage.values)}


class Event(models.TextChoices):
    """What happened on a case, with its date; each belongs to a stage."""

    OPENED = "opened", "立案（审核）"
    LETTER_DRAFTED = "letter_drafted", "律师函草稿交律所"
    LETTER_ISSUED = "letter_issued", "律所出具律师函"
    LETTER_DELIVERED = "letter_delivered", "律师函已送达"
    MEDIATION_REQUESTED = "mediation_requested", "申请调解"
    MEDIATION_ENDED = "mediation_ended", "调解结束"
    PAYMENT_ORDER_FILED = "payment_order_filed", "提交支付令申请"
    PAYMENT_ORDER_ISSUED = "payment_order_issued", "法院发出支付令"
    PAYMENT_ORDER_VOID = "payment_order_void", "支付令异议成立/失效"
    LAWSUIT_FILED = "lawsuit_filed", "起诉立案"
    HEARING = "hearing", "开庭"
    JUDGMENT = "judgment", "判决"
    JUDGMENT_SERVED = "judgment_served", "判决书送达"
    JUDGMENT_EFFECTIVE = "judgment_effective", "判决生效"
    COURT_MEDIATION = "court_mediation", "法院调解结案"
    ENFORCEMENT_FILED = "enforcement_filed", "申请执行"
    CLOSED = "closed", "结案"
    NOTE = "note", "备注"


EVENT_STAGE = {
    Event.OPENED: Stage.REVIEW, Event.LETTER_DRAFTED: Stage.LAWYER_LETTER, Event.LETTER_ISSUED: Stage.LAWYER_LETTER,
    Event.LETTER_DELIVERED: Stage.LAWYER_LETTER, Event.MEDIATION_REQUESTED: Stage.MEDIATION,
    Event.MEDIATION_ENDED: Stage.MEDIATION, Event.PAYMENT_ORDER_FILED: Stage.PAYMENT_ORDER,
    Event.PAYMENT_ORDER_ISSUED: Stage.PAYMENT_ORDER, Event.PAYMENT_ORDER_VOID: Stage.PAYMENT_ORDER,
    Event.LAWSUIT_FILED: Stage.LAWSUIT, Event.HEARING: Stage.LAWSUIT, Event.JUDGMENT: Stage.LAWSUIT,
    Event.JUDGMENT_SERVED: Stage.LAWSUIT, Event.JUDGMENT_EFFECTIVE: Stage.LAWSUIT,
    Event.COURT_MEDIATION: Stage.LAWSUIT, Event.ENFORCEMENT_FILED: Stage.ENFORCEMENT, Event.CLOSED: Stage.CLOSED,
}

# Case events that interrupt the clock of every period the case claims.
EVENT_INTERRUPTS = {
    Event.LETTER_DELIVERED: Interruption.LAWYER_LETTER,
    Event.MEDIATION_REQUESTED: Interruption.MEDIATION,
    Event.PAYMENT_ORDER_FILED: Interruption.PAYMENT_ORDER,
    Event.LAWSUIT_FILED: Interruption.LAWSUIT,
}


class Mediator(models.TextChoices):
    OWNERS_COMMITTEE = "owners_committee", "业主委员会"
    NEIGHBOURHOOD = "neighbourhood", "居委会/街道"
    PEOPLES_MEDIATION = "peoples_mediation", "人民调解委员会"
    COURT = "court", "法院诉前调解"


class Outcome(models.TextChoices):
    PAID = "paid", "已清偿"
    SETTLED = "settled", "和解/调解"
    WRITTEN_OFF = "written_off", "核销"
    WITHDRAWN = "withdrawn", "撤回"


class DeadlineKind(models.TextChoices):
    ANSWER = "answer", "答辩期"
    HEARING = "hearing", "开庭"
    APPEAL = "appeal", "上诉期"
    OBJECTION = "objection", "支付令异议期"
    ENFORCEMENT = "enforcement", "申请执行期限"
    OTHER = "other", "其他"


class CostKind(models.TextChoices):
    COURT_FEE = "court_fee", "案件受理费"
    APPLICATION_FEE = "application_fee", "支付令申请费"
    ENFORCEMENT_FEE = "enforcement_fee", "执行申请费"
    PRESERVATION_FEE = "preservation_fee", "保全费"
    LAWYER_FEE = "lawyer_fee", "律师费"
    SERVICE_FEE = "service_fee", "邮寄送达等费用"
    OTHER = "other", "其他"


class ProofKind(models.TextChoices):
    EMS = "ems", "EMS/挂号信签收"
    SIGNED_RECEIPT = "signed_receipt", "签收回执"
    OTHER = "other", "其他送达凭证"


class DocumentKind(models.TextChoices):
    LAWYER_LETTER = "lawyer_letter", "律师函草稿（供律所审核出具）"
    PAYMENT_ORDER = "payment_order", "支付令申请书（草稿）"
    COMPLAINT = "complaint", "民事起诉状（草稿）"
