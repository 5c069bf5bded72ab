"""The law's limits on what a reminder may say (domain.md, "The law's limits").

Templates are checked when saved: no threat of cutting utilities or blocking access, lifts, parking or
travel; no naming a debtor to neighbours or in public; nothing that imitates a court, the police or a
lawyer; no marketing inside a demand. The engine has no step type that touches utilities, gates, lifts or
parking at all — these checks cover the wording.
"""

from __future__ import annotations

import re

# (pattern, why it is refused). Patterns are matched on the text with whitespace removed.
FORBIDDEN: list[tuple[str, str]] = [
    (r"停水|断水|限水|停止供水|停电|断电|限电|拉闸|停止供电|停气|断气|停暖|停止供暖|停热",
     "不得以停水、停电、停气、停暖相威胁（民法典第九百四十四条）"),
    (r"门禁|停梯|停用电梯|电梯停|限制使用电梯|禁止进入|不得进入|限制出入|不予放行|禁止停车|车辆不得|道闸|锁门|换锁|停车卡",
     "不得以限制门禁、电梯、车辆出入相威胁"),
    (r"影响出行|限制出行|限制高消费|限高|失信被执行人|拘留|坐牢|刑事责任",
     "不得以限制出行、限制消费或刑事后果相威胁"),
    (r"公示|曝光|张榜|通报批评|黑名单|告知邻居|业主群|张贴.{0,6}(姓名|名单)|公开.{0,4}(姓名|名单)",
     "不得公开欠费人信息或告知无关第三人（个人信息保护法）"),
    (r"征信", "物业费欠费不会纳入个人征信，不得以此相威胁"),
    (r"法院传票|法院通知|公安机关|派出所|警方|本律师|律师事务所(函|通知)",
     "不得冒用法院、公安或律师名义；律师函只能由律师出具"),
    (r"优惠|促销|抽奖|返现|特价", "催缴消息不得夹带营销内容"),
]

_COMPILED = [(re.compile(p), why) for p, why in FORBIDDEN]


def check_text(text: str) -> list[str]:
    """Problems found in ``text``; empty when it may be used."""
    flat = re.sub(r"\s+", "", text or "")
    problems = []
    for pattern, why in _COMPILED:
        m = pattern.search(flat)
        if m:
            problems.append(f"“{m.group(0)}”：{why}")
    return problems
