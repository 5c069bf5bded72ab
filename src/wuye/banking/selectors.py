"""Read queries of the banking app."""

from __future__ import annotations

from django.db.models import QuerySet

from wuye.accounts.selectors import project_scope_q
from wuye.banking.models import (
    OPEN_STATUSES,
    BankAccount,
    DebitBatch,
    Mandate,
    StatementImport,
    StatementLine,
)
from wuye.estate.models import Occupancy, Unit
from wuye.estate.selectors import unit_ids_matching


def accounts_visible(user) -> QuerySet[BankAccount]:
    return BankAccount.objects.filter(project_scope_q(user, "project__")).select_related("project")


def imports_visible(user) -> QuerySet[StatementImport]:
    return (StatementImport.objects.filter(bank_account__in=accounts_visible(user))
            .select_related("bank_account", "created_by", "applied_by"))


def review_queue(user, *, account_id: int | None = None) -> QuerySet[StatementLine]:
    lines = StatementLine.objects.filter(bank_account__in=accounts_visible(user), status__in=OPEN_STATUSES)
    if account_id:
        lines = lines.filter(bank_account_id=account_id)
    return lines.select_related("bank_account", "statement").order_by("txn_date", "id")


def units_search(project_ids, text: str, limit: int = 20) -> list[dict]:
    """Units of these projects found by the unit search (for the review page): a code or room number, a current
    owner's or tenant's name, a phone's last digits — the estate's search (``unit_ids_matching``), limited to
    these projects in each of its index probes. ``code ILIKE … OR pk IN (owners named …)`` read every unit of
    the projects (decision 180)."""
    text = (text or "").strip()
    if not text:
        return []
    ids = list(project_ids)
    units = list(Unit.objects.filter(project_id__in=ids, pk__in=unit_ids_matching(text, ids))
                 .order_by("code", "id")[:limit])
    names: dict[int, list[str]] = {}
    for unit_id, name in (Occupancy.objects.filter(unit__in=[u.pk for u in units], end__isnull=True, role="owner")
                          .values_list("unit_id", "party__name")):
        names.setdefault(unit_id, []).append(name)
    return [{"id": u.pk, "code": u.code, "project_id": u.project_id, "names": "、".join(names.get(u.pk, []))}
            for u in units]


def mandates_visible(user) -> QuerySet[Mandate]:
    return Mandate.objects.filter(project_scope_q(user, "project__")).select_related("unit", "project")


def batches_visible(user) -> QuerySet[DebitBatch]:
    return DebitBatch.objects.filter(project_scope_q(user, "project__")).select_related("project", "created_by")
