"""Chinese words for the keys the system writes in its records (audit verbs, who acted).

The audit log and the action log keep stable machine keys (``dunning.task_done``, ``job:demo``): they are
evidence and are searched by key. Pages show these words instead; an unknown key falls back to a generic
Chinese phrase, never to the raw key.
"""

from __future__ import annotations

import re

VERB_LABELS: dict[str, str] = {
    "adjustment.approve": "审批减免/作废",
    "adjustment.request": "申请减免/作废",
    "adjustment.reject": "驳回减免/作废",
    "adjustment.bulk": "批量审批减免/作废",
    "banking.account.save": "保存收款账户",
    "billing.dispute_mark": "标记争议账单（停计违约金）",
    "billing.dispute_unmark": "结束账单争议期间（恢复计算违约金）",
    "billing.dispute_backfill": "补记账单争议期间",
    "banking.debit.batch": "生成代扣批次",
    "banking.debit.failed": "代扣失败",
    "banking.debit.result": "代扣结果入账",
    "banking.line.confirm": "确认银行流水",
    "banking.line.dismiss": "排除银行流水",
    "banking.mandate.create": "登记代扣授权",
    "banking.mandate.revoke": "撤销代扣授权",
    "banking.statement.apply": "银行对账入账",
    "banking.statement.confirm": "确认银行对账",
    "banking.statement.discard": "放弃银行对账",
    "banking.statement.failed": "银行对账失败",
    "banking.statement.requeue": "重新排队银行对账",
    "banking.statement.retry": "重试银行对账",
    "banking.statement.upload": "上传银行流水",
    "billing.apportion": "公摊分摊",
    "billing.run": "出账",
    "billing.run.reverse": "撤销出账",
    "billing.seed_history": "生成演示账务",
    "billing.handover": "收款交班",
    "billing.policy.update": "修改收费政策",
    "casework.contact": "联系记录",
    "casework.dispute_open": "登记争议",
    "casework.dispute_owner_adds": "业主补充争议",
    "casework.dispute_resolve": "处理争议",
    "casework.payment_check": "核实业主所称已缴",
    "casework.promise": "登记承诺缴费",
    "casework.promise_broken": "承诺逾期未缴",
    "casework.promise_party_backfill": "补记承诺人",
    "casework.talking_point": "编辑话术",
    "casework.territory_handover": "移交责任区",
    "casework.territory_move": "调整责任区",
    "casework.work_order": "更新工单",
    "casework.work_order_open": "开立工单",
    "casework.approvals_bulk": "批量审批",
    "casework.visit_photo": "上传上门照片",
    "contact.add": "新增联系方式",
    "contact.validity": "更新号码状态",
    "dunning.account_class": "调整欠费分类",
    "dunning.action_verified": "核实催缴记录",
    "dunning.calendar": "维护节假日",
    "dunning.calendar_year": "确认年度节假日",
    "dunning.hold": "暂停催缴",
    "dunning.hold_release": "恢复催缴",
    "dunning.policy": "修改催缴策略",
    "dunning.policy_defaults": "设定默认催缴策略",
    "dunning.promise_kept": "承诺已兑现",
    "dunning.segment": "调整客户分群",
    "dunning.task_done": "完成催缴任务",
    "dunning.tasks_reassign": "改派催缴任务",
    "dunning.template": "修改消息模板",
    "dunning.notice_printed": "通知书已打印",
    "dunning.pay_link_send": "发送缴费链接",
    "dunning.task_reopen": "撤销任务办结",
    "dunning.demand_withdrawn": "撤回书面催告（已缴清）",
    "estate.seed": "生成演示房产",
    "import.apply": "导入生效",
    "import.failed": "导入中断",
    "import.requeue": "重新排队导入",
    "import.upload": "上传导入文件",
    "insights.disclosure_publish": "发布收支公示",
    "insights.expense_record": "登记支出",
    "insights.month_adjust": "调整月结数据",
    "insights.month_close": "月结",
    "insights.risk_train": "训练欠费预警模型",
    "insights.target_set": "设定收缴目标",
    "installment.approve": "审批分期",
    "installment.request": "申请分期",
    "installment.reject": "驳回分期",
    "installment.broken": "分期逾期未付",
    "installment.completed": "分期履行完毕",
    "late_fee.post": "计收违约金",
    "ledger.rebuild": "重算台账",
    "legal.case_assign": "更换承办人",
    "legal.case_open": "立案",
    "legal.cost": "登记法律费用",
    "legal.deadline": "登记期限",
    "legal.deadline_done": "期限已办",
    "legal.deadline_close_old_appeal": "关闭按判决日期计算的旧上诉期",
    "legal.deadline_notice": "期限提醒承办人",
    "legal.deadline_remind": "期限提醒",
    "legal.pack": "生成证据包",
    "legal.proof": "登记送达证明",
    "legal.template": "修改文书模板",
    "legal.template_drop": "删除项目文书模板（改用公司通用模板）",
    "occupancy.end": "结束入住/产权",
    "occupancy.start.owner": "登记业主",
    "occupancy.start.tenant": "登记租户",
    "party.create": "新增业户",
    "paylink.create": "生成缴费链接",
    "paylink.create_many": "批量生成缴费链接",
    "paylink.revoke": "作废缴费链接",
    "payment.parked": "款项待核",
    "payment.parked_resolve": "处理待核款项",
    "payment.record": "收款",
    "payment.reverse": "冲正",
    "payorder.close": "关闭支付订单",
    "payorder.create": "创建支付订单",
    "payorder.refund": "退款",
    "payorder.refund_ask": "申请退款",
    "payorder.refund_refused": "退款被拒",
    "pii.reveal": "查看完整个人信息",
    "portal.contact_preference": "业主设置联系偏好",
    "portal.field_payment": "登记上门收款（待财务确认）",
    "portal.field_payment_confirm": "确认上门收款",
    "portal.field_payment_reject": "退回上门收款",
    "portal.dispute_raise": "业主提出异议",
    "portal.installment_ask": "业主申请分期",
    "portal.login": "业主登录",
    "login.locked": "员工登录失败次数过多，已暂时锁定",
    "portal.logout": "业主退出",
    "prepay.offer": "设定预缴优惠",
    "prepay.offer.close": "停用预缴优惠",
    "prepay.take": "办理预缴优惠",
    "statement.delivered": "登记账单送达",
    "territory.assign": "分配责任区",
    "territory.remove": "移除责任区",
    "unit.export": "导出房屋",
    "unit.state": "变更房屋状态",
}

_PREFIX_LABELS = {
    "adjustment": "减免", "banking": "银行", "billing": "账务", "casework": "催缴工作", "contact": "联系方式",
    "dunning": "催缴", "estate": "房产", "import": "导入", "installment": "分期", "late_fee": "违约金",
    "legal": "法务", "occupancy": "入住", "party": "业户", "paylink": "缴费链接", "payment": "收款",
    "payorder": "在线支付", "portal": "业主端", "prepay": "预缴", "statement": "账单", "territory": "责任区",
    "unit": "房屋", "pii": "个人信息", "ledger": "台账",
}

# who acted, when no user did: "job:<name>", "portal:<what>", and a few bare names used by older code
_ACTOR_LABELS = {
    "job:demo": "系统（演示数据）", "demo": "系统（演示数据）", "seed": "系统（演示数据）",
    "job:casework": "系统（催缴跟进任务）", "job:dispatch": "系统（自动发送）", "job:dunning_run": "系统（每日催缴计划）",
    "job:notices": "系统（通知书）", "job:receipt": "系统（送达回执）", "job:payment": "系统（在线支付）",
    "job:legal_deadlines": "系统（法务期限）", "job:banking.recover": "系统（银行对账恢复）",
    "job:estate.recover": "系统（导入恢复）",
    "generate_bills": "系统（出账）", "installment_refresh": "系统（分期跟踪）",
    "portal:wechat": "业主（微信支付）", "portal:alipay": "业主（支付宝）", "portal:auto-refund": "系统（自动退款）",
    "portal:refund-query": "系统（退款查询）", "portal:order": "业主（在线支付）", "portal:order-return": "业主（在线支付）",
    "portal:bill": "业主（账单页）", "portal:link": "业主（缴费链接）", "portal:login": "业主（登录）",
    "portal:login-code": "业主（登录）", "portal:login-units": "业主（登录）", "portal:sms": "业主（短信登录）",
    "portal:wechat-oauth": "业主（微信授权）",
}

_LATIN_KEY = re.compile(r"^[A-Za-z0-9_.:\-{}]+$")


def verb_label(verb: str) -> str:
    """``dunning.task_done`` → 完成催缴任务; an unknown key → its area's name + 操作, never the key."""
    verb = verb or ""
    if verb in VERB_LABELS:
        return VERB_LABELS[verb]
    area = verb.split(".", 1)[0]
    return f"{_PREFIX_LABELS.get(area, '系统')}操作"


def actor_label(value) -> str:
    """Who acted, in words: a user's name, or a job/owner label such as ``job:demo`` → 系统（演示数据）."""
    if value is None or value == "":
        return "系统"
    if not isinstance(value, str):
        return str(value)
    if value in _ACTOR_LABELS:
        return _ACTOR_LABELS[value]
    if value.startswith("user:"):
        return value[5:]
    for prefix, words in (("portal:sms", "业主（短信登录）"), ("job:receipt", "系统（送达回执）"),
                          ("portal:", "业主（在线）"), ("job:", "系统任务")):
        if value.startswith(prefix):
            return words
    return "系统" if _LATIN_KEY.match(value) else value
