"""Signed deliveries whose signer does not count (decisions 131 and 160).

A written notice or letter is recorded as delivered with its signer in the delivering status event
(``签收人 张三（本人）``, written by ``dunning.services.task_close`` and by a delivery proof's receipt). Since
decision 131 only the relations a court accepts as receiving for the debtor are taken at entry; rows written
before then (free text: 其他, 门卫, 邻居 …) are still marked delivered. The limitation clock, the 支付令 demand
check and the drafts ask this module which deliveries to leave out, so those old rows stop counting without
rewriting them; the 送达凭证 page lists them (read-only) for managers to follow up."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from wuye.common.lookups import Ids
from wuye.dunning.choices import MAIL_SIGNER_RELATIONS, SIGNER_RELATIONS, ActionStatus, Channel
from wuye.dunning.models import ActionEvent

SIGNED = re.compile(r"签收人 (.+)$")
SIGNED_CHANNELS = (Channel.NOTICE, Channel.REGISTERED)


def recorded_signer(detail: str) -> tuple[str, str] | None:
    """(signer, relation) as a delivering event records them (「签收人 张三（本人）」 at its end), or None when it
    names no signer with a relation. A known relation is matched whole (收件地址代收（门卫、驿站等） has brackets
    of its own, and so may a signer's name); any other is the last bracketed text."""
    m = SIGNED.search(detail or "")
    if m is None:
        return None
    rest = m.group(1).rstrip()
    if not rest.endswith("）"):
        return None
    for relation in MAIL_SIGNER_RELATIONS:
        if rest.endswith(f"（{relation}）"):
            return rest[:-len(relation) - 2].strip(), relation
    cut = rest.rfind("（")
    return (rest[:cut].strip(), rest[cut + 1:-1].strip()) if cut >= 0 else None


def relation_counts(relation: str, channel: str) -> bool:
    """Whether a delivery signed by ``relation`` reached the debtor: the relations accepted at entry today."""
    return relation in (MAIL_SIGNER_RELATIONS if channel == Channel.REGISTERED else SIGNER_RELATIONS)


@dataclass(frozen=True)
class Unaccepted:
    action_id: int
    project_id: int
    unit_id: int
    channel: str
    delivered_at: dt.datetime
    periods: tuple[str, ...]
    signer: str
    relation: str


def unaccepted_deliveries(*, project_id: int | None = None, unit_ids=None) -> dict[int, Unaccepted]:
    """action id → the delivered notices and letters whose recorded signer is not one who counts (in the scope
    of a project or of units). Read from the delivering event (the one at ``delivered_at``), so a proof uploaded
    later and a receipt both count as recorded."""
    qs = ActionEvent.objects.filter(status=ActionStatus.DELIVERED, detail__contains="签收人",
                                    action__status=ActionStatus.DELIVERED, action__channel__in=SIGNED_CHANNELS)
    if project_id is not None:
        qs = qs.filter(action__project_id=project_id)
    if unit_ids is not None:
        qs = qs.filter(action__unit_id__in_ids=Ids(list(unit_ids)))
    out: dict[int, Unaccepted] = {}
    for action_id, at, detail, delivered_at, channel, unit_id, pid, periods in qs.values_list(
            "action_id", "at", "detail", "action__delivered_at", "action__channel", "action__unit_id",
            "action__project_id", "action__periods").order_by():
        if at != delivered_at:
            continue
        signed = recorded_signer(detail)
        if signed is None or relation_counts(signed[1], channel):
            continue
        out[action_id] = Unaccepted(action_id, pid, unit_id, channel, delivered_at, tuple(periods or ()),
                                    signed[0], signed[1])
    return out


def unaccepted_sql(alias: str = "a") -> tuple[str, list]:
    """The same rule as a condition on the actions read by the clock's grouped SQL (``alias``): true for a delivered
    notice or letter whose delivering event ends with a signer in brackets that is none of the relations that
    count. Evaluated only for the notices and letters the read already holds — one index probe each — so the
    whole-estate and per-project reads scan nothing more."""
    events = ActionEvent._meta.db_table

    def ends(relations) -> tuple[str, list]:
        return " OR ".join(["e.detail LIKE %s"] * len(relations)), [f"%（{r}）" for r in relations]

    mail_sql, mail_params = ends(MAIL_SIGNER_RELATIONS)
    hand_sql, hand_params = ends(SIGNER_RELATIONS)
    sql = (f"({alias}.channel IN (%s, %s) AND EXISTS (SELECT 1 FROM {events} e WHERE e.action_id = {alias}.id "
           f"AND e.status = %s AND e.at = {alias}.delivered_at AND e.detail LIKE %s "
           f"AND NOT (({alias}.channel = %s AND ({mail_sql})) OR ({alias}.channel <> %s AND ({hand_sql})))))")
    params = [Channel.NOTICE, Channel.REGISTERED, ActionStatus.DELIVERED, "%签收人 %（%）",
              Channel.REGISTERED, *mail_params, Channel.REGISTERED, *hand_params]
    return sql, params
