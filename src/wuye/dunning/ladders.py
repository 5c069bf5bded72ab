"""What makes a ladder workable — checked whenever a policy is saved (page, API, command), pure and testable.

The engine fires, each day, the highest ladder stage whose trigger holds above the stage already reached;
a stage below the one reached never fires again in that episode. So the order of the stages must follow
their triggers, or a stage is skipped for good (a referral at order 10 and a day-1 SMS at order 20: the
SMS fires on day 1 and the referral never does). Events, repeats and pre-due reminders are not stages and
may carry any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wuye.dunning.choices import WRITTEN_DEMAND_CHANNELS, Channel, StepKind

# the fields of a step that a policy edit may set (plain data: the page, the API and commands use it)
STEP_FIELDS = ("order", "name", "kind", "days", "months", "amount_fen", "event", "repeat_days", "min_amount_fen",
               "channel", "template_id", "assignee", "account_class", "min_risk_pct", "prefer_month_edge_days",
               "active")


def _earliest_day(step: Mapping[str, Any]) -> int | None:
    """The first day overdue on which a stage's trigger can hold by time (days, or 30-day months); None
    when it can hold on any day (an amount alone)."""
    days = [d for d in (step.get("days"),
                        step.get("months") * 30 if step.get("months") is not None else None) if d is not None]
    return min(days) if days else None


def _label(step: Mapping[str, Any]) -> str:
    return f"第 {step.get('order')} 阶段“{step.get('name') or ''}”"


def ladder_problems(steps: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why a ladder (its active steps, as plain data) would not work; empty when it does."""
    live = [s for s in steps if s.get("active", True)]
    problems: list[str] = []
    stages = sorted((s for s in live if s.get("kind") in (StepKind.OVERDUE, StepKind.AFTER_PREVIOUS)
                     and not s.get("repeat_days")), key=lambda s: s.get("order") or 0)
    for s in live:
        if s.get("min_risk_pct") and s.get("kind") != StepKind.PRE_DUE:
            problems.append(f"{_label(s)}按预警风险筛选只适用于到期前提醒（如到期前的电话），不能用于催缴阶段或事件。")
        if s.get("account_class") and s.get("kind") in (StepKind.OVERDUE, StepKind.AFTER_PREVIOUS) \
                and not s.get("repeat_days"):
            problems.append(f"{_label(s)}只对某一分类执行，须设置重复间隔：否则它会作为阶段越过其他步骤。")
    for i, s in enumerate(stages):
        lower = [p for p in stages[:i] if (p.get("order") or 0) < (s.get("order") or 0)]
        if s.get("kind") == StepKind.AFTER_PREVIOUS and not lower:
            problems.append(f"{_label(s)}是“距上一步天数”，但它前面没有阶段。")
        here = _earliest_day(s)
        if s.get("kind") != StepKind.OVERDUE or here is None:
            continue
        for p in lower:
            before = _earliest_day(p)
            if p.get("kind") == StepKind.OVERDUE and before is not None and here < before:
                problems.append(
                    f"{_label(s)}在逾期第 {here} 天即可触发，早于排在它前面的{_label(p)}（第 {before} 天）："
                    "按此顺序，前一阶段将永远不会执行。请调整阶段序号或触发条件。")
                break
        if s.get("channel") == Channel.REFERRAL and not any(
                p.get("channel") in WRITTEN_DEMAND_CHANNELS and not p.get("account_class") for p in lower):
            problems.append(f"{_label(s)}转介律师，但它前面没有书面催告（书面通知或挂号信）阶段："
                            "转介前须有送达的书面催告（民法典第九百四十四条）。")
    return problems
