"""The starting library of talking points (话术), written for this project. Managers edit it afterwards;
``talking_points_install`` adds missing points by code and never overwrites an edited one."""

from __future__ import annotations

# code, account class, reason, title, body. Every text passes ``dunning.guardrails`` as spoken words (a test
# checks); a change to a shipped text needs a data migration that updates the installed rows still unedited
# (see casework migration 0006).
LIBRARY: list[tuple[str, str, str, str, str]] = [
    ("open-polite", "", "", "先核对身份再谈费用",
     "您好，我是小区物业服务中心的收费员。请问是 {房号} 的业主本人吗？确认是本人后再说明来意，"
     "不要向接电话的其他人透露欠费金额。"),
    ("open-purpose", "", "", "说明来意、给出明细",
     "打扰您一两分钟：系统显示您家有几期物业费还没有缴，我把月份和金额跟您核对一下，"
     "如果和您的记录不一致，我们马上查。"),
    ("close-summary", "", "", "结束前复述约定",
     "跟您确认一下：您会在某月某日前缴某元，方式是……。到时如果有变化，请提前打服务中心电话告诉我们。"),
    ("promised-remind", "promised", "", "承诺前一天的提醒",
     "您好，您之前说好明天缴物业费，今天提前提醒一下。可以到服务中心，也可以用微信或银行转账，"
     "缴好后告诉我们一声，我们把收据给您。"),
    ("promised-broken", "promised", "", "承诺日已过未缴",
     "您好，您约定的缴费日已经过了，我们还没有收到款项。是不是遇到什么情况？"
     "如果一次缴清有困难，可以先缴一部分，或者申请分期。"),
    ("undecided-date", "undecided", "", "争取一个具体日期",
     "理解您最近忙。您看哪一天方便处理？给我一个大概的日子，我记下来，到时候只提醒一次，不再反复打扰。"),
    ("undecided-channels", "undecided", "", "介绍方便的缴费方式",
     "现在不用专门跑一趟：微信、支付宝、银行转账都可以缴，我可以把缴费链接发到您手机上。"),
    ("unreachable-visit", "unreachable", "", "上门时在门口简短说明",
     "上门时只在门口交谈，先自我介绍并出示工牌；不在楼道、电梯等有旁人的地方说欠费的事。"
     "家中无人时留一张服务中心的联系卡，不张贴欠费内容。"),
    ("unreachable-new-number", "unreachable", "", "请业主留下新的联系方式",
     "您原来登记的号码打不通了，麻烦留一个现在常用的电话，以后小区的通知和账单都能及时送到您。"),
    ("away-remote", "away", "", "人在外地：远程缴费",
     "您在外地也不影响缴费，转账或线上缴都可以，缴好后电子收据会发到您手机上；需要的话我们可以把账单寄给您。"),
    ("away-proxy", "away", "", "可由家人代缴",
     "如果方便，也可以请在本地的家人到服务中心代缴，收据开业主的名字。"),
    ("refusing-listen", "refusing", "", "先听完，再记录",
     "先让业主把不满说完，不打断、不争辩。把问题逐条记下来，告诉业主会转给谁处理、大约多久回复。"),
    ("refusing-firm", "refusing", "", "对无理拒缴保持礼貌、坚持原则",
     "物业费对应的是整个小区的保洁、安保和设备维护，这些服务一直在提供。您反映的问题我们会处理，"
     "但费用还是需要按合同缴纳。"),
    ("reason-service", "", "service", "服务质量：先整改再收费",
     "感谢您指出问题。我已经把情况报给项目经理，会安排整改并在某日前给您回复；整改完成后再跟您约缴费的事。"),
    ("reason-house", "", "house_quality", "房屋质量：分清保修责任",
     "房屋本身的质量问题在保修期内由开发商负责维修，我们可以帮您联系开发商并跟进进度；"
     "公共部位或我们维护范围内的问题，由我们派工程人员处理。"),
    ("reason-leak", "", "house_quality", "漏水：先派人查看",
     "漏水影响生活，我们先派工程师上门查看原因，确定是哪里的问题、由谁负责，维修期间会随时告诉您进展。"),
    ("reason-neighbour", "", "neighbour", "邻里纠纷：物业可以协调",
     "邻居之间的事我们可以出面协调，但不能代替任何一方做决定；物业费和邻里纠纷是两件事，建议分开处理。"),
    ("reason-theft", "", "theft", "失窃或车辆受损：协助调查",
     "发生这样的事我们也很抱歉。建议您尽快向派出所报案，我们会配合调取监控和值班记录、说明当班情况。"
     "物业公司不是保险人，责任怎么认定按调查结果和合同约定来；物业费的事和这件事分开处理。"),
    ("reason-utilities", "", "shared_utilities", "公摊水电：拿出计算依据",
     "公摊费用是按总表读数和各户面积分摊的，我可以把本期的读数和计算表给您看，有疑问的地方我们一起核对。"),
    ("reason-fee-level", "", "fee_level", "收费标准：说明依据",
     "收费标准是按物业服务合同和备案价格执行的，合同、收费标准和小区年度收支公示都可以在服务中心查看；"
     "如果对标准有意见，可以通过业主大会提出。"),
    ("reason-hardship", "", "hardship", "经济困难：介绍分期",
     "如果一次缴清有困难，可以申请分几期缴，每期金额您觉得合适就行，由经理审批；先缴一部分也可以。"),
]


def talking_points_install(model=None) -> int:
    """Add the points of ``LIBRARY`` that are missing (by code); returns how many were added.
    ``model`` lets a data migration pass its historical model."""
    if model is None:
        from wuye.casework.models import TalkingPoint as model
    existing = set(model.objects.values_list("code", flat=True))
    new = [model(code=code, account_class=klass, reason=reason, title=title, body=body, sort=(n + 1) * 10)
           for n, (code, klass, reason, title, body) in enumerate(LIBRARY) if code not in existing]
    model.objects.bulk_create(new)
    return len(new)
