"""Cycle keys of the outbox, built and read in one place.

An action is unique on ``(unit, step, cycle)``: the cycle key says which occurrence of a step it is, so a
re-run (or a re-run after a crash) writes nothing twice. The engine builds the keys, the dispatcher, the
pages and the legal module read them — all through this module, never by slicing the string.

Grammar (``<ep>`` is the debtor's arrears episode: ``A<episode opened on>/p<party>``; keys written before
episodes were per debtor have no ``/p<party>`` and are still read):

=====================  ==========================  =====================================================
kind                   key                          meaning
=====================  ==========================  =====================================================
STAGE                  ``<ep>``                     a ladder stage of the episode (fires once)
REPEAT                 ``<ep>@<date>``              a repeating step (weekly call, fortnightly SMS) on a day
INSTALLMENT            ``<ep>:I``                   the installment plan's standing became broken
SIGNER                 ``<ep>:S``                   office: the designated signer could not be reached
LIMITATION             ``<ep>:L@<date>``            a 时效保全 demand naming periods close to expiry
DEMAND                 ``<ep>:W@<date>``            a written demand issued again because a referral needs
                                                    one that reached the debtor (the stage's was cancelled,
                                                    undeliverable, or named other periods)
PRE_DUE                ``D<due>[/p<party>]``        a reminder before the due date of the next bill
PROMISE_EVE            ``PD<hold>``                 the day before a promised date
PROMISE_BROKEN         ``PB<hold>``                 the day after a promised date passed unpaid
PREPAID_OUT            ``R<date>[/p<party>]``       the owner's prepaid balance ran out (first unpaid bill)
PAY_LINK               ``M<date>T<hhmmss>[/p<party>]``  a pay link a collector sent by hand (one tap, at the
                                                    door or on the phone) at that local time
=====================  ==========================  =====================================================

Only STAGE actions are ladder progress (the "stage reached" of an episode). Repeats, events and pre-due
reminders never move the ladder. Which actions count towards the arrears-message cap is
``counts_towards_message_cap`` — the engine and the dispatcher both ask it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from wuye.dunning.choices import MESSAGE_CHANNELS

MAX_LENGTH = 40  # Action.cycle


class Kind(StrEnum):
    STAGE = "stage"
    REPEAT = "repeat"
    INSTALLMENT = "installment"
    SIGNER = "signer"
    LIMITATION = "limitation"
    DEMAND = "demand"
    PRE_DUE = "pre_due"
    PROMISE_EVE = "promise_eve"
    PROMISE_BROKEN = "promise_broken"
    PREPAID_OUT = "prepaid_out"
    PAY_LINK = "pay_link"


# kinds that belong to an arrears episode (the action carries the episode)
EPISODE_KINDS = frozenset({Kind.STAGE, Kind.REPEAT, Kind.INSTALLMENT, Kind.SIGNER, Kind.LIMITATION, Kind.DEMAND,
                           Kind.PROMISE_EVE, Kind.PROMISE_BROKEN})
# kinds whose message demands overdue money (they count towards the arrears-message cap)
ARREARS_MESSAGE_KINDS = frozenset({Kind.STAGE, Kind.REPEAT, Kind.INSTALLMENT, Kind.LIMITATION,
                                   Kind.PROMISE_BROKEN, Kind.PAY_LINK})


@dataclass(frozen=True)
class Cycle:
    kind: Kind
    opened_on: dt.date | None = None  # the episode's first day (A<date>)
    on: dt.date | None = None  # the day of a repeat / limitation demand / prepaid run-out, the due date of pre-due
    hold_id: int | None = None
    party_id: int | None = None
    at: dt.datetime | None = None  # local time of a pay link sent by hand

    @property
    def key(self) -> str:
        return build(self)

    @property
    def is_progress(self) -> bool:
        """Does an action of this cycle count as the ladder's stage reached? Only stages do."""
        return self.kind == Kind.STAGE

    @property
    def in_episode(self) -> bool:
        return self.kind in EPISODE_KINDS


def _episode_part(c: Cycle) -> str:
    if c.opened_on is None:
        raise ValueError("an episode cycle needs the day the episode opened")
    return f"A{c.opened_on.isoformat()}{_party_part(c.party_id)}"


def _party_part(party_id: int | None) -> str:
    return f"/p{party_id}" if party_id is not None else ""


def build(c: Cycle) -> str:
    k = c.kind
    if k == Kind.STAGE:
        key = _episode_part(c)
    elif k == Kind.REPEAT:
        key = f"{_episode_part(c)}@{c.on.isoformat()}"
    elif k == Kind.INSTALLMENT:
        key = f"{_episode_part(c)}:I"
    elif k == Kind.SIGNER:
        key = f"{_episode_part(c)}:S"
    elif k == Kind.LIMITATION:
        key = f"{_episode_part(c)}:L@{c.on.isoformat()}"
    elif k == Kind.DEMAND:
        key = f"{_episode_part(c)}:W@{c.on.isoformat()}"
    elif k == Kind.PRE_DUE:
        key = f"D{c.on.isoformat()}{_party_part(c.party_id)}"
    elif k == Kind.PROMISE_EVE:
        key = f"PD{c.hold_id}"
    elif k == Kind.PROMISE_BROKEN:
        key = f"PB{c.hold_id}"
    elif k == Kind.PREPAID_OUT:
        key = f"R{c.on.isoformat()}{_party_part(c.party_id)}"
    elif k == Kind.PAY_LINK:
        key = f"M{c.at:%Y-%m-%dT%H%M%S}{_party_part(c.party_id)}"
    else:  # pragma: no cover - exhaustive
        raise ValueError(k)
    if len(key) > MAX_LENGTH:
        raise ValueError(f"cycle key too long: {key}")
    return key


# --- builders (what the engine calls) ------------------------------------------------------------------

@dataclass(frozen=True)
class Episode:
    """What names a debtor's arrears episode in a key: the day it opened and the debtor."""

    opened_on: dt.date
    party_id: int | None


def stage(ep: Episode) -> str:
    return build(Cycle(Kind.STAGE, opened_on=ep.opened_on, party_id=ep.party_id))


def repeat(ep: Episode, on: dt.date) -> str:
    return build(Cycle(Kind.REPEAT, opened_on=ep.opened_on, party_id=ep.party_id, on=on))


def installment(ep: Episode) -> str:
    return build(Cycle(Kind.INSTALLMENT, opened_on=ep.opened_on, party_id=ep.party_id))


def signer(ep: Episode) -> str:
    return build(Cycle(Kind.SIGNER, opened_on=ep.opened_on, party_id=ep.party_id))


def limitation(ep: Episode, on: dt.date) -> str:
    return build(Cycle(Kind.LIMITATION, opened_on=ep.opened_on, party_id=ep.party_id, on=on))


def demand(ep: Episode, on: dt.date) -> str:
    return build(Cycle(Kind.DEMAND, opened_on=ep.opened_on, party_id=ep.party_id, on=on))


def pre_due(due: dt.date, party_id: int | None = None) -> str:
    return build(Cycle(Kind.PRE_DUE, on=due, party_id=party_id))


def promise_eve(hold_id: int) -> str:
    return build(Cycle(Kind.PROMISE_EVE, hold_id=hold_id))


def promise_broken(hold_id: int) -> str:
    return build(Cycle(Kind.PROMISE_BROKEN, hold_id=hold_id))


def prepaid_out(on: dt.date, party_id: int | None = None) -> str:
    return build(Cycle(Kind.PREPAID_OUT, on=on, party_id=party_id))


def pay_link(at: dt.datetime, party_id: int | None = None) -> str:
    """A pay link sent by hand at ``at`` (naive local time, to the second)."""
    return build(Cycle(Kind.PAY_LINK, at=at.replace(microsecond=0), on=at.date(), party_id=party_id))


# --- reading ---------------------------------------------------------------------------------------------

_DATE = r"\d{4}-\d{2}-\d{2}"
_PARTY = r"(?:/p(?P<party>\d+))?"
_EP = rf"A(?P<opened>{_DATE}){_PARTY}"
_PATTERNS: list[tuple[Kind, re.Pattern]] = [
    (Kind.STAGE, re.compile(rf"{_EP}")),
    (Kind.REPEAT, re.compile(rf"{_EP}@(?P<on>{_DATE})")),
    (Kind.INSTALLMENT, re.compile(rf"{_EP}:I")),
    (Kind.SIGNER, re.compile(rf"{_EP}:S")),
    (Kind.LIMITATION, re.compile(rf"{_EP}:L@(?P<on>{_DATE})")),
    (Kind.DEMAND, re.compile(rf"{_EP}:W@(?P<on>{_DATE})")),
    (Kind.PRE_DUE, re.compile(rf"D(?P<on>{_DATE}){_PARTY}")),
    (Kind.PROMISE_EVE, re.compile(r"PD(?P<hold>\d+)")),
    (Kind.PROMISE_BROKEN, re.compile(r"PB(?P<hold>\d+)")),
    (Kind.PREPAID_OUT, re.compile(rf"R(?P<on>{_DATE}){_PARTY}")),
    (Kind.PAY_LINK, re.compile(rf"M(?P<on>{_DATE})T(?P<hms>\d{{6}}){_PARTY}")),
]


def parse(key: str) -> Cycle:
    """The cycle a key stands for; ``ValueError`` for a key no version of the engine wrote."""
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(key or "")
        if m:
            g = m.groupdict()
            return Cycle(
                kind,
                opened_on=dt.date.fromisoformat(g["opened"]) if g.get("opened") else None,
                on=dt.date.fromisoformat(g["on"]) if g.get("on") else None,
                hold_id=int(g["hold"]) if g.get("hold") else None,
                party_id=int(g["party"]) if g.get("party") else None,
                at=(dt.datetime.strptime(g["on"] + g["hms"], "%Y-%m-%d%H%M%S") if g.get("hms") else None),
            )
    raise ValueError(f"not a cycle key: {key!r}")


def kind_of(key: str) -> Kind:
    """The kind of a key, without building the whole ``Cycle`` (the daily run asks this of every action of
    the open episodes)."""
    head = key[:1]
    if head == "A":
        if ":" in key:
            tag = key[key.index(":") + 1:key.index(":") + 2]
            kind = {"I": Kind.INSTALLMENT, "S": Kind.SIGNER, "L": Kind.LIMITATION, "W": Kind.DEMAND}.get(tag)
            if kind is not None:
                return kind
        elif "@" in key:
            return Kind.REPEAT
        else:
            return Kind.STAGE
    elif head == "D":
        return Kind.PRE_DUE
    elif head == "R":
        return Kind.PREPAID_OUT
    elif head == "M":
        return Kind.PAY_LINK
    elif key[:2] == "PD":
        return Kind.PROMISE_EVE
    elif key[:2] == "PB":
        return Kind.PROMISE_BROKEN
    return parse(key).kind  # raises for a key no version wrote


def is_progress(key: str) -> bool:
    """Does this action count as the ladder's stage reached (only ladder stages do)?"""
    return kind_of(key) == Kind.STAGE


def counts_towards_message_cap(key: str, channel: str) -> bool:
    """The one definition of an arrears message for the cap (``arrears_message_min_days``): a message
    channel (SMS, WeChat, e-mail) and a cycle that demands overdue money — ladder stages, repeats, a
    missed installment, a limitation demand, a broken promise, a pay link a collector sent by hand. Pre-due reminders, the reminder the day
    before a promised date (the owner asked for it) and the prepaid run-out notice do not count and are
    not held back by it."""
    return channel in MESSAGE_CHANNELS and kind_of(key) in ARREARS_MESSAGE_KINDS
