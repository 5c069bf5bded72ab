"""A project's billing policy (收费政策): edited by its manager, validated as a whole, audited field by field.

The terms apply from the next bill run on: bills already issued keep the due date and the late-fee terms
they were issued under (a bill's due date is stored on it), so a change never rewrites what an owner was
told. The cycle (账期) cannot change once a project has bills — periods would overlap or leave gaps; a new
cycle needs a planned change-over, done by an administrator with the data in front of them.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from wuye.accounts.models import User
from wuye.accounts.services import audit_record
from wuye.billing.models import Bill, BillingPolicy
from wuye.billing.permissions import can_approve
from wuye.estate.models import Project

EDITABLE = (
    "cycle_months", "anchor_month", "due_rule", "due_day", "due_days_after_delivery",
    "late_fee_per_mille", "late_fee_grace_days", "late_fee_cap_percent", "late_fee_not_above_principal",
    "late_fee_charge_at_settlement", "court_lpr_percent", "court_margin_percent",
)
CYCLE_FIELDS = ("cycle_months", "anchor_month")

# Bounds a sane contract stays within; a value outside is a typing slip (5‰ a day is already 182 % a year).
BOUNDS: dict[str, tuple[Decimal | int, Decimal | int]] = {
    "anchor_month": (1, 12),
    "due_day": (1, 28),
    "due_days_after_delivery": (1, 90),
    "late_fee_per_mille": (Decimal("0"), Decimal("5")),
    "late_fee_grace_days": (0, 365),
    "late_fee_cap_percent": (Decimal("0"), Decimal("100")),
    "court_lpr_percent": (Decimal("0"), Decimal("20")),
    "court_margin_percent": (Decimal("0"), Decimal("100")),
}
def _values(policy: BillingPolicy) -> dict:
    out = {}
    for name in EDITABLE:
        value = getattr(policy, name)
        out[name] = str(value) if isinstance(value, Decimal) else value
    return out


def policy_problems(policy: BillingPolicy) -> dict[str, list[str]]:
    """Field → messages for a policy about to be saved (empty when it is consistent)."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    for name, (low, high) in BOUNDS.items():
        value = getattr(policy, name)
        if value is None:
            continue
        if value < low or value > high:
            label = BillingPolicy._meta.get_field(name).verbose_name
            add(name, f"{label}应在 {low} 到 {high} 之间。")
    if policy.cycle_months not in (1, 3, 6, 12):
        add("cycle_months", "账期只能是 1、3、6 或 12 个月。")
    if policy.late_fee_charge_at_settlement and not policy.late_fee_per_mille:
        add("late_fee_charge_at_settlement", "违约金日费率为 0（合同无违约金条款）时不能开启结清时自动计收违约金。")
    if not policy.late_fee_per_mille and policy.late_fee_cap_percent:
        add("late_fee_cap_percent", "没有违约金条款时不需要填写违约金上限。")
    return problems


@transaction.atomic
def billing_policy_save(*, actor: User, project: Project, data: dict) -> BillingPolicy:
    """Set the fields of ``data`` (names from ``EDITABLE``) on the project's policy; all or nothing.

    Raises ``ValidationError`` naming the fields at fault. Returns the policy; an audit event lists every
    field that changed (before and after); a save that changes nothing records nothing."""
    if not can_approve(actor):  # the managers who approve what reduces money set the terms too
        raise ValidationError({"actor": "只有经理或管理员可以修改收费政策。"})
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError({"data": f"未知字段：{'、'.join(sorted(unknown))}。"})
    policy, _ = BillingPolicy.objects.select_for_update().get_or_create(project=project)
    before = _values(policy)
    for name, value in data.items():
        setattr(policy, name, value)
    try:
        policy.full_clean(exclude=["project"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None
    problems = policy_problems(policy)
    after = _values(policy)
    changed = [name for name in EDITABLE if before[name] != after[name]]
    if any(name in CYCLE_FIELDS for name in changed) and Bill.objects.filter(project=project).exists():
        for name in CYCLE_FIELDS:
            if name in changed:
                problems.setdefault(name, []).append("该项目已出账，账期和起始月份不能再改；如需改变账期请联系管理员安排切换。")
    if problems:
        raise ValidationError(problems)
    if not changed:
        return policy
    policy.save()
    audit_record(actor=actor, verb="billing.policy.update", obj=policy, project_id=project.pk,
                 before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return policy
