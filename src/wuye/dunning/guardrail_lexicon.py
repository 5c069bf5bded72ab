"""The guardrail lexicon: what a reminder, notice or talking point may not say, and the lawful wording that
looks like it but is allowed. Data only — the matching is in ``guardrails.py``; how to extend this file is in
docs/decisions.md ("Guardrails: one checker").

Every pattern is a Python regular expression matched against the *normalised* text: simplified characters,
half-width, lower-case latin, with every space, zero-width character, punctuation mark and symbol removed
(so ``停 水、停．电`` is matched as ``停水停电``). Write patterns in simplified Chinese, without punctuation,
and keep gaps short (``.{0,6}``): the clauses of a message run together once punctuation is gone.

A ``Term`` with ``negatable=True`` is not a violation when a negation stands right before it in the same
clause (``不张贴欠费内容``, ``我们不会停水停电``), unless a doubting word precedes that negation
(``不排除``, ``不保证``, ``如果不``). Terms that carry their own negation (``不予放行``) are never negatable.

An ``Allow`` rule masks lawful wording before the forbidden terms are matched (fee names such as 停车费 or
电梯费, aggregated 收支公示, advice to report a theft to the police, a lawful statement of intent to sue).
An allow rule never removes a forbidden word from the list: it only takes a lawful phrase out of the text,
so the same forbidden word elsewhere in the message is still found.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    reason: str  # shown to the person who wrote the text, in Chinese
    basis: str  # the legal basis, shown with the reason
    automatic_only: bool = False  # applies only to texts sent on an automatic channel (see AUTOMATIC_CHANNELS)


@dataclass(frozen=True)
class Term:
    category: str
    pattern: str
    negatable: bool = True


@dataclass(frozen=True)
class Allow:
    name: str
    pattern: str
    why: str
    not_after: str = ""  # not masked right after one of these characters (停水电费 is not a fee name)
    requires: tuple[str, ...] = ()  # tried only on a text containing one of these (a cheap first test)


# Channels whose text reaches the owner without a person speaking it: messages and printed notices. Lawyer
# wording is refused there (only a licensed lawyer issues a 律师函); a call script, a talking point or the
# internal referral to the law firm may speak of a lawyer.
AUTOMATIC_CHANNELS = frozenset({"sms", "wechat", "email", "notice", "registered"})

CATEGORIES: dict[str, Category] = {c.code: c for c in [
    Category("utilities", "停水停电等",
             "不得以停止或限制供水、供电、供气、供暖相威胁",
             "民法典第九百四十四条第三款"),
    Category("access", "门禁电梯车辆",
             "不得以限制门禁、电梯、停车或车辆出入相威胁",
             "民法典第九百四十四条第三款；最高人民法院典型案例"),
    Category("withholding", "停止服务或拒办手续",
             "不得以暂停或停止物业服务（保洁、维修等），或拒绝办理装修、入住、过户、车位等手续相威胁；"
             "欠费应通过催告、协商和诉讼解决",
             "民法典第九百四十四条第三款；民法典第五百零九条"),
    Category("shaming", "公开点名",
             "不得公开欠费人的姓名、房号或欠费情况，不得在群内、公告栏或门上点名通报",
             "个人信息保护法第二十五条；民法典第一千零三十二条至第一千零三十八条"),
    Category("third_party", "联系无关第三人",
             "不得向工作单位、亲属、邻居等无关第三人透露或追讨欠费",
             "个人信息保护法第二十五条；民法典第一千零三十三条"),
    Category("impersonation", "冒用司法机关名义",
             "不得冒用法院、公安机关或律师事务所的名义，也不得以尚未发生的强制措施相威胁",
             "治安管理处罚法、刑法关于冒充国家机关工作人员的规定；律师法第十三条"),
    Category("lawyer", "律师函措辞",
             "自动发送的短信、微信、邮件和书面通知不得使用律师或律师函的名义，律师函只能由执业律师出具",
             "律师法第十三条", automatic_only=True),
    Category("credit", "征信与出行",
             "物业费欠费不纳入个人征信，不得以征信、失信、限制出行或限制消费相威胁",
             "征信业管理条例；民法典第九百四十四条"),
    Category("criminal", "刑事后果",
             "欠缴物业费是民事纠纷，不得以报警、拘留或刑事责任相威胁",
             "民法典第九百四十四条；治安管理处罚法"),
    Category("harassment", "骚扰",
             "不得以频繁、夜间或堵门的方式骚扰业主",
             "民法典第一千零三十三条；治安管理处罚法"),
    Category("marketing", "夹带营销",
             "催缴消息不得夹带优惠、促销等营销内容",
             "通信短信息服务管理规定"),
]}

# Nouns and verbs used below.
_UTIL = "(?:水|电|气|燃气|天然气|煤气|暖|暖气|热|热水|供暖|采暖)"
_CUT = "(?:停|断|停止|暂停|中断|切断|终止|限制|关停|关闭|截断)"
_CARD = "(?:电梯卡|梯控|门卡|门禁卡|门禁|停车卡|出入卡|业主卡|车卡|车辆识别|车牌识别|人脸识别|车牌)"
_DISABLE = "(?:失效|停用|注销|冻结|作废|锁定|消磁|禁用|关闭|限制|停止|取消|拉黑|删除)"
_MOVE = "(?:入内|进入|进门|进小区|驶入|通行|出入|进出|放行|停放|停车|回家|上楼)"
_NO = "(?:禁止|不得|不能|不予|不准|不许|不让|拒绝|无法)"
_PUBLISH = "(?:公布|公开|公示|张贴|贴出|发布|曝光|通报|点名|挂出|上墙|张榜)"
_PEOPLE = "(?:工作单位|所在单位|单位领导|单位同事|公司领导|领导|同事|亲属|亲戚|亲友|家属|父母|子女|配偶|朋友|邻居|家人)"
_TELL = "(?:联系|通知|告知|告诉|找到|找|致电|拜访|走访|打电话给|打给|发函给|发给)"
_HALT = "(?:暂停|停止|中止|终止|取消|中断|减少)"
# a service by name, or "服务" with a word making it the unit's services (a bare 暂停服务 may be a hotline's)
_SERVICE = ("(?:(?:有关|相关|一切|全部|各项|部分|日常|任何)的?(?:物业)?服务|的?(?:物业服务|物业管理服务|物业管理|保洁服务|保洁"
            "|清洁服务|垃圾清运|维修服务|报修服务|维修|安保服务|秩序维护|绿化养护|代收快递|快递代收))")
_PAPERS = "(?:装修|入住|交房|收楼|过户|车位|停车|出入证|钥匙|证明|手续)"
_POLICE = "(?:公安局|公安机关|公安|警方|派出所|民警|警察)"

TERMS: list[Term] = [
    # --- utilities ----------------------------------------------------------------------------------------
    Term("utilities", "停水|断水|停电|断电|拉闸|停气|断气|停暖|断暖|停热|断热|停供|断供|断网|停网"),
    Term("utilities", f"{_CUT}(?:供应|供给)?{_UTIL}(?:供应)?"),                    # 暂停供水, 切断电源
    Term("utilities", "停止.{0,8}供(?:水|电|气|暖|热)"),                          # 停止为您家供水供电
    Term("utilities", "(?:暂停|停止|中断|切断|终止|限制|关闭)(?:为|对|向)?.{0,6}(?:供水|供电|供气|供暖|供热|用水|用电|用气)"),
    Term("utilities", f"{_UTIL}{_UTIL}{{0,2}}(?:将|会|会被|要|即将|可能|就|便|将被)被?{_CUT}(?:供应|供给|使用|服务)?"),
    Term("utilities", f"{_UTIL}{_UTIL}{{0,2}}(?:暂停|停止|中断|切断|终止|限制|关停|关闭|截断)(?:供应|供给|使用|服务)?"),
    Term("utilities", "(?:切断|关闭|关掉|锁闭|拆除)(?:您家?的?)?(?:水阀|电闸|总阀|阀门|电源|水源|气源|电表|水表|气表)"),
    Term("utilities", "(?:不再|不予|停止)(?:提供|供应)?(?:水|电|气|暖|热)(?:服务)?", negatable=False),
    # --- access, lifts, parking, vehicles -------------------------------------------------------------------
    Term("access", f"{_CARD}.{{0,6}}{_DISABLE}"),                                   # 门卡将失效
    Term("access", f"{_DISABLE}.{{0,6}}{_CARD}"),                                   # 停用您的电梯卡
    Term("access", "停梯|梯控|停用电梯|电梯停运|电梯停用|停止电梯|锁梯|封梯"),
    Term("access", "(?:限制|禁止|不得|不能|不予|不准|停止).{0,4}(?:使用|乘坐)?电梯", negatable=False),
    Term("access", "电梯.{0,4}(?:不停|不开放|不再停靠|停靠限制|限制使用)", negatable=False),
    Term("access", f"限制{_MOVE}|限制车辆"),                                       # 限制进出
    Term("access", f"{_NO}{_MOVE}", negatable=False),                               # 不予放行
    Term("access", f"(?:车辆|车|您的车|车子|机动车|电动车).{{0,6}}{_NO}.{{0,2}}{_MOVE}", negatable=False),
    Term("access", "禁止停车|不得停车|不能停车|车位.{0,4}(?:收回|停用|取消|限制)|取消.{0,4}车位", negatable=False),
    Term("access", "门禁|道闸|锁门|换锁|封门|堵锁"),
    # --- withholding the company's own services or other business as leverage --------------------------------
    # (the seed's sample 催款单 ends "并将暂停对贵单元的有关服务": that sentence is what this refuses)
    Term("withholding", f"{_HALT}(?:对|为|向|给)(?:您|你|贵|该|其|业主|欠费)的?.{{0,8}}服务"),  # 暂停对贵单元的有关服务
    Term("withholding", f"{_HALT}(?:提供)?{_SERVICE}"),                                          # 暂停物业服务
    Term("withholding", f"(?:不再|不予|拒绝|拒不)(?:为您|为你|给您|给你|为其|向您)?(?:提供)?{_SERVICE}", negatable=False),
    Term("withholding", f"(?:不予|拒绝|拒不|暂停|停止|不再|暂缓)(?:为您|为你|给您|给你|为其|向您)?(?:办理|受理|开具|出具|审批|盖章|交付|发放)"
                        f"(?:的|您的|你的)?.{{0,4}}{_PAPERS}", negatable=False),          # 拒绝为您办理装修手续
    # --- public naming, group shaming ----------------------------------------------------------------------
    Term("shaming", f"{_PUBLISH}.{{0,8}}(?:名单|姓名|名字|房号|门牌|老赖)"),         # 公布欠费业主名单
    Term("shaming", f"{_PUBLISH}(?:了)?(?:本?小区|本楼|全体|所有|部分|长期)?的?(?:欠费|欠款|拖欠)(?:业主|户|住户|人员|者)?的?"
                    "(?:名单|姓名|名字|房号|信息|情况|通知|通知单|催缴单|清单|明细|金额)"),
    Term("shaming", "(?:欠费|欠款|拖欠).{0,6}(?:名单|榜|公示|曝光|通报)"),
    Term("shaming", f"(?:全体业主|业主|小区|楼栋|单元|物业)(?:微信|qq)?群.{{0,6}}(?:{_PUBLISH}|艾特)"),
    Term("shaming", f"(?:微信群|qq群|群).{{0,6}}(?:{_PUBLISH}|艾特)"),
    Term("shaming", "(?:门上|门口|家门|入户门|大门|电梯(?:内|里|口|间)?|楼道|单元门|公告栏|宣传栏|小区门口).{0,4}(?:张贴|贴出|贴上|粘贴|公布|公示)"),
    Term("shaming", "贴在.{0,4}(?:门|电梯|楼道|单元)"),
    Term("shaming", "曝光|黑名单|张榜|老赖|通报批评|公开点名|朋友圈|公示|上墙"),
    # --- employer, relatives, unrelated third parties ------------------------------------------------------
    Term("third_party", f"{_TELL}(?:您|你|其|业主)?的?{_PEOPLE}"),
    Term("third_party", f"{_TELL}(?:您|你|其)(?:的)?单位"),
    Term("third_party", f"向(?:您|你|其|业主)?的?{_PEOPLE}.{{0,8}}(?:透露|告知|说明|通报|反映|催收|追讨|讨要|催缴|催要)"),
    Term("third_party", f"让(?:您|你|其)?的?{_PEOPLE}.{{0,4}}(?:知道|知晓|代为?还)"),
    Term("third_party", f"{_PEOPLE}.{{0,4}}(?:代为?偿还|承担.{{0,2}}欠费|催您|催你)"),
    # --- court, police, law-firm impersonation (any channel) ----------------------------------------------
    Term("impersonation", "传票|本院|本庭|执行局|执行庭|拘传|司法拘留|强制执行|查封|扣押|冻结.{0,4}(?:账户|银行卡|存款|工资|财产)"),
    Term("impersonation", "法院.{0,2}(?:通知|公告|传唤|判决|裁定|执行|已立案|已受理|将强制|限期)"),
    Term("impersonation", f"{_POLICE}.{{0,4}}(?:通知|传唤|协查|立案|介入|上门|抓|带走|调查您|找您)"),
    Term("impersonation", "本律师|本所律师|律师事务所.{0,2}(?:函|通知|公告|声明|郑重)|受托律师|特此函告|律师声明"),
    # --- lawyer or lawyer-letter wording on an automatic channel ------------------------------------------
    Term("lawyer", "律师函|律师信|律师|律所|法务函|法律函"),
    # --- credit records, travel, consumption --------------------------------------------------------------
    Term("credit", "征信|信用记录|信用报告|信用档案|不良记录|失信|限制高消费|限高|限制出行|影响出行|限制乘坐|禁止乘坐"),
    Term("credit", "(?:坐|乘坐)不了.{0,2}(?:高铁|飞机)"),
    Term("credit", "影响.{0,4}(?:出行|乘车|坐车|出国|出境)|影响.{0,4}(?:子女|孩子|小孩).{0,4}(?:上学|入学|就业|考公|政审|升学)|影响.{0,2}(?:贷款|买房|买车|信用)"),
    # --- criminal threats -----------------------------------------------------------------------------
    Term("criminal", "刑事|拘留|坐牢|判刑|入狱|逮捕|犯罪|刑拘|诈骗罪|拒不执行|抓人|报警处理"),
    Term("criminal", "(?:将|会|要|已|立即|马上|直接|予以)(?:报警|报案)"),
    # --- harassment --------------------------------------------------------------------------------------
    Term("harassment", "堵门|轰炸|骚扰|天天上门|天天打|每天上门"),
    Term("harassment", "每天打.{0,4}直到|直到您?缴.{0,6}为止"),
    Term("harassment", "(?:夜间|深夜|凌晨|半夜)(?:上门|打电话|致电|拜访)"),
    # --- marketing inside a demand ----------------------------------------------------------------------
    Term("marketing", "优惠|促销|抽奖|返现|特价|打折|折扣|秒杀|大礼包|赠品|礼品|送礼|领券|优惠券|红包|积分兑换|充值送"),
]

# Lawful wording that contains a forbidden word: masked before the terms are matched. ``not_after`` keeps a
# verb of cutting off or refusing from hiding behind a fee name (停水电费, 禁止停车费 stay forbidden).
ALLOWS: list[Allow] = [
    Allow("fee_names",
          "(?:电梯(?:运行|维保|维护|使用|服务)?费|停车(?:位|场)?(?:管理|服务|租赁)?费|车位(?:管理|服务|租赁)?费"
          "|公摊水电费?|水电费(?:公摊|分摊)?|水费|电费|燃气费|暖气费|供暖费|采暖费|热水费)",
          "费用名称（电梯费、停车费、停车位管理费、水电费公摊等）不是威胁", not_after="停断限供拉切关止准得许让能"),
    Allow("utility_words", "判断|间断|不间断|不断|诊断|垄断|果断|断定|来电|致电|截止日期|缴费截止|供水供电企业|供电公司|供水公司|燃气公司",
          "含有“断”“停”的普通词语"),
    Allow("aggregated_accounts",
          "(?:收支|收支情况|收支明细|账目|财务|收费标准|收费|价格|服务标准|公共收益|维修资金使用)(?:公示|公开)"
          "|(?:公示|公开)(?:收支|收支情况|账目|财务状况|收费标准|价格|公共收益|维修资金使用情况)"
          "|年度收支公开|明码标价",
          "汇总的收支公示、收费标准公示不点名任何人，是物业服务人的法定义务（民法典第九百四十三条）",
          requires=("公示", "公开", "明码标价")),
    Allow("police_advice",
          f"(?:建议|可以|可|请|尽快|及时|协助|配合|陪同|帮助|帮|由)(?:您|业主)?(?:先|尽快|及时)?(?:向|到|去|联系)?"
          f"{_POLICE}(?:报案|报警)"
          f"|(?:建议|可以|可|请)(?:您|业主)?(?:先|尽快|及时)?(?:报案|报警)"
          f"|配合{_POLICE}(?:调取|调查|取证|处理)|以{_POLICE}的?调查结果为准",
          "失窃等治安案件建议业主向公安机关报案，是提示而不是威胁", requires=("报案", "报警", "公安", "警方", "派出所")),
    Allow("notification_services",
          "(?:短信|消息|微信|邮件|电话|语音)(?:提醒|通知|推送)?服务|(?:提醒|通知|推送)服务"
          "|上门(?:收费|收款|缴费|催缴)服务|服务(?:预约|热线|时间|网点|窗口|评价)",
          "提醒、通知等消息服务和上门收费安排不是物业服务本身，停止或改期不是以停止服务相威胁",
          requires=("服务",)),
    Allow("lawful_intent",
          "依法(?:提起|通过)?诉讼|提起诉讼|向(?:有管辖权的)?人民法院(?:起诉|提起诉讼|申请支付令)|申请支付令|诉讼等途径",
          "说明将依法起诉或申请支付令是合法的意思表示，不是冒用法院名义", requires=("诉讼", "起诉", "支付令")),
]
