"""The default ladders and templates a new project starts with (editable afterwards).

They follow the practice in domain.md: friendly reminders before the due date, an SMS when it passes, a
call on day 3, an arrears message at most every two weeks, visits and a registered letter from three
months, a lawyer-letter referral at six months or a threshold amount; office buildings get three written
notices on days 3, 7 and 10 and an escalation after the third; a stricter year-end variant ships inactive.
Every text here is our own wording.
"""

from __future__ import annotations

from django.db import connection, transaction

from wuye.dunning.choices import AccountClass, Assignee, Channel, Event, Segment, StepKind
from wuye.dunning.models import MessageTemplate, Policy, Step
from wuye.estate.choices import ProjectKind
from wuye.estate.models import Project

# code: (name, channel, subject, body)
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "pre_due_1": ("到期前提醒（一）", Channel.SMS, "",
                  "{company}提醒您：{unit} 本期费用 {amount_due}，缴费截止日 {due_date}。"
                  "可到服务中心、微信或银行转账缴纳。{pay_link}"),
    "pre_due_2": ("到期前提醒（二）", Channel.SMS, "",
                  "{company}温馨提示：{unit} 本期费用 {amount_due} 将于 {due_date} 到期，已缴请忽略。{pay_link}"),
    "overdue_sms": ("逾期提醒", Channel.SMS, "",
                    "{company}通知：{unit} 截至 {today} 有 {months} 期费用共 {amount} 尚未缴纳，"
                    "请于 {deadline} 前缴纳。[如有疑问请致电 {phone}。]{pay_link}"),
    "arrears_sms": ("欠费提醒（定期）", Channel.SMS, "",
                    "{company}提示：{unit} 累计未缴费用 {amount}（最早一期 {oldest_due} 到期），"
                    "请于 {deadline} 前缴纳[，逾期按合同约定按日 {late_fee_rate} 计收违约金]。[咨询 {phone}。]{pay_link}"),
    "arrears_email": ("欠费提醒（邮件）", Channel.EMAIL, "{unit} 物业费缴费提醒",
                      "尊敬的业主：\n\n{unit} 截至 {today} 有 {months} 期费用共 {amount} 尚未缴纳，"
                      "最早一期于 {oldest_due} 到期。请于 {deadline} 前缴纳。[\n\n如对账单有疑问，请致电 {phone}。]"
                      "\n\n{company}"),
    "call_first": ("首次电话", Channel.CALL, "",
                   "电话联系业主：确认是否收到缴费通知，了解未缴原因，记录是否有投诉和承诺缴费日期。"),
    "call_weekly": ("定期电话", Channel.CALL, "",
                    "再次电话联系：欠费 {amount}，{months} 期。询问缴费安排，如有困难可介绍分期。"),
    "find_contact": ("查找联系方式并上门", Channel.VISIT, "",
                     "联系不上业主（号码停机、空号或错号）：先查入住登记、租赁备案、装修登记、银行代扣协议等已有资料"
                     "找新号码，再上门寻访（欠费 {amount}，最早 {oldest_due} 到期）。找到的新号码请补录到房屋资料；"
                     "只在门口与业主本人或家人交谈，不向邻居或其他无关的人透露欠费情况。"),
    "call_away": ("异地业主电话", Channel.CALL, "",
                  "业主在外地：电话联系，说明不必回来也能缴费（微信、支付宝、银行转账），需要时经微信发送缴费链接，"
                  "约定转账日期（欠费 {amount}，{months} 期）。"),
    "visit": ("上门沟通", Channel.VISIT, "",
              "上门沟通（可约财务同去，现场收款并开具收据）：欠费 {amount}，最早 {oldest_due} 到期。"
              "在门口交谈，不向邻居透露欠费情况。"),
    "registered_letter": ("挂号信催缴", Channel.REGISTERED, "缴费催告函",
                          "{unit} 业主：截至 {today}，您有 {months} 期费用共 {amount} 未缴纳。"
                          "请于 {deadline} 前缴清。[逾期将依照物业服务合同按日 {late_fee_rate} 计收违约金。]"
                          "逾期仍未缴纳的，我司可能依法提起诉讼。"),
    "notice_1": ("第一次催缴通知书", Channel.NOTICE, "第一次催缴通知书",
                 "{unit}：贵方 {months} 期费用共 {amount} 已逾期，请于 {deadline} 前缴纳。"),
    "notice_2": ("第二次催缴通知书", Channel.NOTICE, "第二次催缴通知书",
                 "{unit}：贵方费用 {amount} 仍未缴纳，请于 {deadline} 前缴纳[，逾期将按合同约定按日 {late_fee_rate} 计收违约金]。"),
    "notice_3": ("第三次催缴通知书", Channel.NOTICE, "第三次催缴通知书",
                 "{unit}：经两次书面催告，贵方费用 {amount} 仍未缴纳。请于 {deadline} 前缴清，"
                 "否则我司将依法通过诉讼等途径主张权利。"),
    "escalate": ("升级处理", Channel.ESCALATE, "",
                 "三次书面催缴后仍未缴纳（{amount}），请部门负责人确定下一步处理方式。"),
    "referral": ("律师函转介", Channel.REFERRAL, "",
                 "欠费 {amount}、{months} 期，已达转介条件。请整理合同、账单、缴费记录和催缴送达记录，"
                 "交合作律所审核是否发函。"),
    "promise_due": ("承诺前一天提醒", Channel.CALL, "",
                    "业主承诺 {promise_date} 缴费，请今天提醒（欠费 {amount}）。"),
    "promise_broken": ("承诺失约跟进", Channel.CALL, "",
                       "业主承诺 {promise_date} 缴费未兑现，请立即联系（欠费 {amount}）。"),
    "installment_missed": ("分期违约跟进", Channel.CALL, "",
                           "分期付款未按期履行，请联系业主了解原因（欠费 {amount}）。"),
    "hardship_call": ("困难户关怀电话", Channel.CALL, "",
                      "困难户：电话了解近况，说明可申请分期[，合同约定的违约金（按日 {late_fee_rate}）也可申请减免]"
                      "（欠费 {amount}）。"),
    "prepaid_out": ("预存款用完提醒", Channel.SMS, "",
                    "{company}提示：{unit} 的预存物业费已用完，本期尚有 {amount_due} 未缴，缴费截止日 {due_date}。"
                    "如需继续预存，可到服务中心或在线缴纳。{pay_link}"),
    "ems_signer": ("书面通知改寄 EMS", Channel.REGISTERED, "缴费通知（邮寄）",
                   "{unit}：贵方 {months} 期费用共 {amount} 已逾期。书面通知未能当面送交贵方指定负责人，"
                   "现以 EMS 寄至贵方联系地址，请于 {deadline} 前缴纳。[咨询 {phone}。]"),
    "limitation_demand": ("逐期书面催告（时效保全）", Channel.REGISTERED, "缴费催告函",
                          "{unit} 业主：截至 {today}，下列账期的费用仍未缴纳，合计 {amount}（明细见附页）。"
                          "请于 {deadline} 前缴清。[咨询 {phone}。]"),
}

YUAN = 100


def _s(order, name, kind, channel, template, *, days=None, months=None, amount=None, event="", repeat=None,
       assignee=Assignee.SYSTEM, edge=0, klass=""):
    return dict(order=order, name=name, kind=kind, channel=channel, template=template, days=days, months=months,
                amount_fen=amount * YUAN if amount else None, event=event, repeat_days=repeat,
                assignee=assignee, prefer_month_edge_days=edge, account_class=klass)


PRE_DUE = [
    _s(1, "到期前 15 天提醒", StepKind.PRE_DUE, Channel.SMS, "pre_due_1", days=-15),
    _s(2, "到期前 7 天提醒", StepKind.PRE_DUE, Channel.SMS, "pre_due_2", days=-7),
]
# follow-up driven by the account's class (set by the collector's contact outcomes; domain.md)
BY_CLASS = [
    _s(25, "暂未明确：每日电话", StepKind.OVERDUE, Channel.CALL, "call_weekly", days=1, repeat=1,
       assignee=Assignee.COLLECTOR, klass=AccountClass.UNDECIDED),
    _s(26, "无法联系：上门寻访", StepKind.OVERDUE, Channel.VISIT, "find_contact", days=1, repeat=14,
       assignee=Assignee.COLLECTOR, klass=AccountClass.UNREACHABLE),
    _s(28, "异地出差：引导远程缴费", StepKind.OVERDUE, Channel.CALL, "call_away", days=1, repeat=1,
       assignee=Assignee.COLLECTOR, klass=AccountClass.AWAY),
    _s(27, "特殊拒交：报经理", StepKind.OVERDUE, Channel.ESCALATE, "escalate", days=1, repeat=30,
       assignee=Assignee.MANAGER, klass=AccountClass.REFUSING),
]
EVENTS = BY_CLASS + [
    _s(90, "承诺前一天提醒", StepKind.EVENT, Channel.CALL, "promise_due", event=Event.PROMISE_DUE,
       assignee=Assignee.COLLECTOR),
    _s(91, "承诺失约跟进", StepKind.EVENT, Channel.CALL, "promise_broken", event=Event.PROMISE_BROKEN,
       assignee=Assignee.COLLECTOR),
    _s(92, "分期违约跟进", StepKind.EVENT, Channel.CALL, "installment_missed", event=Event.INSTALLMENT_MISSED,
       assignee=Assignee.COLLECTOR),
    _s(93, "预存款用完提醒", StepKind.EVENT, Channel.SMS, "prepaid_out", event=Event.PREPAID_OUT),
    _s(95, "时效保全：逐期书面催告", StepKind.EVENT, Channel.REGISTERED, "limitation_demand", event=Event.LIMITATION,
       assignee=Assignee.COLLECTOR),
]
# office buildings: a notice nobody could sign for goes by EMS to the contact address (domain.md)
SIGNER = [_s(94, "无人签收改寄 EMS", StepKind.EVENT, Channel.REGISTERED, "ems_signer",
             event=Event.SIGNER_UNREACHABLE, assignee=Assignee.COLLECTOR)]


def _residential(referral_yuan: int, *, call_repeat: int = 7, visits: bool = True, early_visits: bool = False
                 ) -> list[dict]:
    steps = PRE_DUE + [
        _s(10, "逾期短信", StepKind.OVERDUE, Channel.SMS, "overdue_sms", days=1),
        _s(20, "逾期 3 天电话", StepKind.OVERDUE, Channel.CALL, "call_first", days=3, assignee=Assignee.COLLECTOR),
        _s(21, "定期电话", StepKind.OVERDUE, Channel.CALL, "call_weekly", days=10, repeat=call_repeat,
           assignee=Assignee.COLLECTOR),
        _s(22, "每两周欠费短信", StepKind.OVERDUE, Channel.SMS, "arrears_sms", days=17, repeat=14, edge=6),
        _s(30, "欠费 3 个月挂号信", StepKind.OVERDUE, Channel.REGISTERED, "registered_letter", months=3,
           assignee=Assignee.COLLECTOR),
        _s(40, "律师函转介", StepKind.OVERDUE, Channel.REFERRAL, "referral", months=6, amount=referral_yuan,
           assignee=Assignee.LEGAL),
    ]
    if early_visits:  # shops and villas: someone assigned visits from the first month (seed 003, decision 113)
        steps.append(_s(31, "专人上门跟进", StepKind.OVERDUE, Channel.VISIT, "visit", days=30, repeat=14,
                        assignee=Assignee.COLLECTOR))
    elif visits:
        steps.append(_s(31, "上门沟通", StepKind.OVERDUE, Channel.VISIT, "visit", months=3, repeat=21,
                        assignee=Assignee.COLLECTOR))
    return steps + EVENTS


POLICIES: dict[str, list[tuple[str, str, list[dict], str]]] = {
    # project kind → [(segment, name, steps, note)]
    ProjectKind.RESIDENTIAL: [
        ("", "住宅标准催缴", _residential(5000), "电话为主；三个月起上门并寄挂号信；六个月或 5,000 元转介律师。"),
        (Segment.VACANT, "空置/投资房催缴", _residential(3000, call_repeat=30, visits=False),
         "每月电话，推荐银行代扣；3,000 元转介律师。"),
        (Segment.SHOP_VILLA, "商铺与别墅催缴", _residential(5000, early_visits=True),
         "专人长期跟进：逾期满 30 天起每两周上门；5,000 元转介律师。"),
        (Segment.ELSEWHERE, "常住异地业主催缴", _residential(5000, call_repeat=3, visits=False),
         "多打电话，引导转账或线上缴费。"),
        (Segment.HARDSHIP, "困难户关怀", PRE_DUE + [
            _s(10, "逾期短信", StepKind.OVERDUE, Channel.SMS, "overdue_sms", days=1),
            _s(20, "关怀电话", StepKind.OVERDUE, Channel.CALL, "hardship_call", days=7, repeat=30,
               assignee=Assignee.COLLECTOR),
        ] + EVENTS, "以分期、减免违约金为主，不转介律师（由经理个案决定）。"),
    ],
    ProjectKind.OFFICE: [
        ("", "写字楼催缴", PRE_DUE + [
            _s(10, "逾期短信", StepKind.OVERDUE, Channel.SMS, "overdue_sms", days=1),
            _s(20, "第一次催缴通知书", StepKind.OVERDUE, Channel.NOTICE, "notice_1", days=3,
               assignee=Assignee.COLLECTOR),
            _s(30, "第二次催缴通知书", StepKind.OVERDUE, Channel.NOTICE, "notice_2", days=7,
               assignee=Assignee.COLLECTOR),
            _s(40, "第三次催缴通知书", StepKind.OVERDUE, Channel.NOTICE, "notice_3", days=10,
               assignee=Assignee.COLLECTOR),
            _s(50, "升级部门负责人", StepKind.AFTER_PREVIOUS, Channel.ESCALATE, "escalate", days=3,
               assignee=Assignee.MANAGER),
            _s(60, "律师函转介", StepKind.OVERDUE, Channel.REFERRAL, "referral", months=6, amount=5000,
               assignee=Assignee.LEGAL),
        ] + EVENTS + SIGNER, "第 3/7/10 天三次书面通知，由指定人员签收；无人签收时 EMS 寄送；第三次后升级。"),
    ],
}

YEAR_END = ("年末专项（从严）", [
    _s(1, "到期前 30 天书面通知", StepKind.PRE_DUE, Channel.NOTICE, "notice_1", days=-30, assignee=Assignee.COLLECTOR),
    _s(2, "到期前 7 天提醒", StepKind.PRE_DUE, Channel.SMS, "pre_due_2", days=-7),
    _s(10, "逾期短信", StepKind.OVERDUE, Channel.SMS, "overdue_sms", days=1),
    _s(20, "逾期 3 天电话", StepKind.OVERDUE, Channel.CALL, "call_first", days=3, assignee=Assignee.COLLECTOR),
    _s(30, "逾期 30 天上门", StepKind.OVERDUE, Channel.VISIT, "visit", days=30, assignee=Assignee.COLLECTOR),
    _s(35, "逾期 40 天挂号信催告", StepKind.OVERDUE, Channel.REGISTERED, "registered_letter", days=40,
       assignee=Assignee.COLLECTOR),
    _s(40, "逾期 60 天转介律师", StepKind.OVERDUE, Channel.REFERRAL, "referral", days=60, assignee=Assignee.LEGAL),
] + EVENTS, "年末集中清欠时启用：填写起止日期后优先于标准策略。")


def templates_install_defaults() -> dict[str, MessageTemplate]:
    """The company-wide templates (idempotent; an edited template is left as it is)."""
    out = {}
    for code, (name, channel, subject, body) in TEMPLATES.items():
        out[code], _ = MessageTemplate.objects.get_or_create(
            project=None, code=code, defaults={"name": name, "channel": channel, "subject": subject, "body": body})
    return out


@transaction.atomic
def policies_install_defaults(project: Project) -> list[Policy]:
    """Give ``project`` the default ladders unless it already has policies."""
    if Policy.objects.filter(project=project).exists():
        return list(Policy.objects.filter(project=project))
    return policies_install_defaults_many([project])


INSTALL_LOCK = 0x77790D01  # advisory lock: installing the default ladders


@transaction.atomic
def policies_install_defaults_many(projects: list[Project]) -> list[Policy]:
    """The default ladders for each of ``projects`` that has no policy yet, in a few bulk inserts (a first
    run over hundreds of projects installs them all at once). Two runs started together install them once:
    on PostgreSQL the second waits for the first's transaction behind an advisory lock, then finds the
    policies (SQLite's write transactions already queue)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [INSTALL_LOCK])
    have = set(Policy.objects.filter(project__in=projects).values_list("project_id", flat=True).distinct())
    todo = [p for p in projects if p.pk not in have]
    if not todo:
        return []
    templates = templates_install_defaults()
    plans: list[tuple[Policy, list[dict]]] = []
    for project in todo:
        specs = list(POLICIES.get(project.kind, POLICIES[ProjectKind.RESIDENTIAL]))
        for segment, name, steps, note in specs + [("", YEAR_END[0], YEAR_END[1], YEAR_END[2])]:
            plans.append((Policy(project=project, segment=segment, name=name, note=note,
                                 active=name != YEAR_END[0]), steps))
    made = Policy.objects.bulk_create([policy for policy, _ in plans], batch_size=1_000)
    if any(p.pk is None for p in made):  # a backend that cannot return keys from a bulk insert
        keyed = {(p.project_id, p.name): p for p in Policy.objects.filter(project__in=todo)}
        made = [keyed[(p.project_id, p.name)] for p in made]
    Step.objects.bulk_create([
        Step(policy=policy, **{**spec, "template": templates[spec["template"]]})
        for policy, (_, steps) in zip(made, plans, strict=True) for spec in steps], batch_size=2_000)
    return made
