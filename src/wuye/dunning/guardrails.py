"""The law's limits on what a reminder, notice or talking point may say (domain.md, "The law's limits").

One checker, used at every door: the template and talking-point models refuse to save a text that fails
(``MessageTemplate.save``, ``TalkingPoint.save``, their bulk paths), so do the forms, the API, the admin and
the imports built on them, and the dispatcher checks the rendered text again at send time.

How a text is checked:
1. It is normalised: compatibility forms folded (NFKC: full-width → half-width, ⽔ → 水), traditional
   characters converted to simplified (``opencc``'s t2s tables), latin lower-cased, and every space,
   zero-width or format character, combining mark, punctuation mark and symbol removed — so ``停 水``,
   ``停．电``, ``停-电``, ``停\u200b电`` and ``停電`` all read ``停水``/``停电``. No pinyin is involved.
2. Lawful wording that contains a forbidden word is masked (``guardrail_lexicon.ALLOWS``): fee names
   (电梯费, 停车位管理费, 水电费公摊), aggregated 收支公示, advice to report a theft to the police, a lawful
   statement of intent to sue or apply for a payment order.
3. The forbidden terms (``guardrail_lexicon.TERMS``) are searched. A match is let through only when
   a negation stands right before it in the same clause (``不张贴欠费内容``) and the term allows that, or
   when a term with a gap would have to reach across the end of a sentence. Lawyer wording counts only on
   the automatic channels (``guardrail_lexicon.AUTOMATIC_CHANNELS``) or when the channel is not known.

``check_text`` keeps its old shape (a list of Chinese messages, empty when the text may be used);
``find_violations`` returns the details; ``assert_clean`` / ``assert_fields_clean`` raise ``GuardrailError``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from wuye.dunning.guardrail_lexicon import ALLOWS, AUTOMATIC_CHANNELS, CATEGORIES, TERMS, Category

__all__ = ["AUTOMATIC_CHANNELS", "SPOKEN", "GuardrailError", "Violation", "assert_clean", "assert_fields_clean",
           "check_text", "find_violations", "normalise", "summary"]

# Characters that end a sentence in the original text: a term with a gap does not reach across them.
SENTENCE_ENDS = frozenset("。！？；!?;\n\r\u2028\u2029")
_MASK = "\0"


@dataclass(frozen=True)
class Violation:
    """One forbidden phrase found in a text."""

    category: str  # a key of guardrail_lexicon.CATEGORIES
    label: str  # the category's short Chinese name
    matched: str  # the phrase as written (spaces, punctuation, traditional characters and all)
    normalised: str  # the phrase as the checker read it
    reason: str
    basis: str

    @property
    def message(self) -> str:
        return f"{_quote(self)}：{self.reason}（{self.basis}）"


def _quote(v: Violation) -> str:
    shown = "".join(c for c in v.matched if unicodedata.category(c)[0] != "C" or c == " ").strip()
    if shown.replace(" ", "") == v.normalised:
        return f"“{shown}”"
    return f"“{shown}”（即“{v.normalised}”）"


class GuardrailError(ValidationError):
    """A text fails the guardrails; ``violations`` lists what was found (all fields together)."""

    def __init__(self, message, violations: list[Violation]):
        super().__init__(message)
        self.violations = violations

    @property
    def summary(self) -> str:
        """One line of at most 300 characters (an action's ``last_error``, an alert to a manager)."""
        return summary(self.violations)


def summary(violations: list[Violation], limit: int = 300) -> str:
    """“停水”（停水停电等）；“业主群通报”（公开点名）… — the phrases found and their categories, shortened."""
    text = "违反催缴规范：" + "；".join(f"“{v.normalised}”（{v.label}）" for v in violations)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- normalisation -------------------------------------------------------------------------------------------

@functools.cache
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


@functools.lru_cache(maxsize=65536)
def _t2s_char(ch: str) -> str:
    return _t2s().convert(ch)


@functools.cache
def _t2s_table() -> tuple[dict[int, str], frozenset[str], frozenset[str]]:
    """From the package's character table: one-to-one conversions (for ``str.translate``) and the characters
    with several simplified forms (乾 → 乾/干), for which the phrase-aware converter is asked instead."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    ambiguous: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        forms = values.split()
        if len(key) != 1 or not forms:
            continue
        if len(forms) > 1:
            ambiguous.add(key)
        elif forms[0] != key and len(forms[0]) == 1:
            table[ord(key)] = forms[0]
    return table, frozenset(chr(k) for k in table), frozenset(ambiguous)


# Runs that need no per-character work: CJK unified ideographs and ASCII letters and digits (kept, latin
# lower-cased) and the common spaces and punctuation (dropped). Anything else goes through NFKC and the
# category test one character at a time (memoised).
_KEEP = r"0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff"
_DROP = r"\s!-/:-@\[-`{-~\u3000-\u3003\u3008-\u3011\u2018-\u201f\u2026\uff01-\uff0f\uff1a-\uff20\u00a5\u00b7\u2014\u2015"
_RUNS = re.compile(f"([{_KEEP}]+)|([{_DROP}]+)")
_DROP_RUNS = re.compile(f"[{_DROP}]+")
_OTHER = re.compile(f"[^{_KEEP}{_DROP}]")


def _fold(ch: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if unicodedata.category(c)[0] in "PSZCM":  # punctuation, symbols, spaces, control/format, marks
            continue
        out.append(c.casefold())
    return "".join(out)


_FOLDED: dict[str, str] = {}


def _fold_into(text: str, start: int, end: int, parts: list[str], where: list[int]) -> None:
    for i in range(start, end):
        ch = text[i]
        folded = _FOLDED.get(ch)
        if folded is None:
            folded = _fold(ch)
            if len(_FOLDED) < 100_000:
                _FOLDED[ch] = folded
        if folded:
            parts.append(folded)
            where.extend([i] * len(folded))


def _flatten(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the original character."""
    parts: list[str] = []
    where: list[int] = []
    pos = 0
    for m in _RUNS.finditer(text):
        if m.start() > pos:
            _fold_into(text, pos, m.start(), parts, where)
        if m.group(1):
            parts.append(m.group(1).lower())
            where.extend(range(m.start(), m.end()))
        pos = m.end()
    if pos < len(text):
        _fold_into(text, pos, len(text), parts, where)
    return _t2s_text("".join(parts)), where


def _t2s_text(flat: str) -> str:
    """Traditional → simplified, one character for one (positions stay those of ``_flatten``)."""
    table, convertible, ambiguous = _t2s_table()
    if convertible.isdisjoint(flat) and ambiguous.isdisjoint(flat):
        return flat  # simplified already (the common case)
    if not ambiguous.isdisjoint(flat):
        converted = _t2s().convert(flat)  # phrase-aware; character by character if lengths would shift
        if len(converted) == len(flat):
            return converted
        return "".join(_t2s_char(c)[:1] or c for c in flat)
    return flat.translate(table)


def normalise(text: str) -> str:
    """The text as the checker reads it (see the module docstring)."""
    text = text or ""
    if _OTHER.search(text) is None:  # only ideographs, ASCII and common punctuation: no per-character work
        return _t2s_text(_DROP_RUNS.sub("", text).lower())
    return _flatten(text)[0]


# --- matching ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Compiled:
    category: Category
    rx: re.Pattern
    negatable: bool
    gapped: bool


@dataclass(frozen=True)
class _Mask:
    rx: re.Pattern
    not_after: frozenset[str]
    requires: tuple[str, ...]


@functools.cache
def _compiled() -> tuple[list[_Compiled], list[_Mask]]:
    terms = [_Compiled(CATEGORIES[t.category], re.compile(t.pattern), t.negatable, ".{" in t.pattern or ".*" in t.pattern)
             for t in TERMS]
    masks = [_Mask(re.compile(a.pattern), frozenset(a.not_after), a.requires) for a in ALLOWS]
    return terms, masks


def _masked(flat: str, masks: list[_Mask]) -> str:
    """``flat`` with the lawful phrases replaced by mask characters (same length)."""
    out = flat
    for mask in masks:
        if mask.requires and not any(word in flat for word in mask.requires):
            continue

        def repl(m, mask=mask):
            if m.start() and flat[m.start() - 1] in mask.not_after:
                return m.group(0)
            return _MASK * (m.end() - m.start())
        out = mask.rx.sub(repl, out)
    return out


# A negation right before a term: 不 / 不会 / 不得 / 绝不 / 从不 / 无权 / 没有 …, optionally with 再, 会, 因欠费而 …
_NEGATION = re.compile(r"(?:不|无权|没有|从未|禁止|严禁)(?:会|得|能|要|再|可|可以|允许|应|应当|应该|是|予)?"
                       r"(?:因为?欠费而?|因为?欠缴而?|因此|对您|向您|为您|随意|擅自|以)?$")
# ... which does not count after a word of doubt or condition (不排除停水, 如果不…, 否则不…).
_DOUBT = re.compile(r"(?:排除|保证|难保|一定|如果|如|若|假如|要是|再|仍|还|拒|否则|然|倘若|万一)$")


def _negated(flat: str, start: int, where: list[int], text: str) -> bool:
    m = _NEGATION.search(flat, max(0, start - 12), start)
    if m is None or m.start() == m.end():
        return False
    if _DOUBT.search(flat, max(0, m.start() - 6), m.start()):
        return False
    return _same_clause(text, where, m.start(), start)


def _same_clause(text: str, where: list[int], a: int, b: int) -> bool:
    """No punctuation in the original text between normalised positions ``a`` and ``b``."""
    between = text[where[a]:where[b]] if b < len(where) else text[where[a]:]
    return not any(unicodedata.category(c)[0] == "P" or c in SENTENCE_ENDS for c in between)


# words that join the items of a negated list: 不会停水、停电或停气
_JOINERS = frozenset({"", "和", "或", "及", "与", "或者", "以及", "也不", "或是", "更不会", "更不"})


def _continues(masked: str, where: list[int], text: str, start: int, negated: list[tuple[int, int]]) -> bool:
    """Is a match at ``start`` another item of a negated list (or inside a negated phrase)?"""
    for ns, ne in negated:
        if ns <= start < ne:
            return True
        if ne <= start and masked[ne:start] in _JOINERS:
            between = text[where[ne - 1] + 1:where[start]]
            if not any(c in SENTENCE_ENDS for c in between):
                return True
    return False


def find_violations(text: str, *, channel: str | None = None) -> list[Violation]:
    """What in ``text`` the law forbids (empty when it may be used). ``channel`` is the step/template
    channel (``sms``, ``wechat``, ``email``, ``notice``, ``registered``, ``call``, ``visit``, ``referral``,
    ``escalate``); ``None`` applies every rule."""
    text = text or ""
    flat = normalise(text)
    if not flat:
        return []
    terms, masks = _compiled()
    masked = _masked(flat, masks)
    where: list[int] = []  # normalised position → original position, built once there is a hit
    automatic = channel is None or channel in AUTOMATIC_CHANNELS
    hits: list[tuple[int, int, _Compiled]] = []
    for term in terms:
        if term.category.automatic_only and not automatic:
            continue
        pos = 0
        while pos < len(masked):
            m = term.rx.search(masked, pos)
            if m is None:
                break
            s, e = m.start(), m.end()
            if e > s and not where:
                where = _flatten(text)[1]
            if e > s and term.gapped and any(c in SENTENCE_ENDS for c in text[where[s]:where[e - 1] + 1]):
                pos = s + 1  # a gap may not reach across the end of a sentence
                continue
            if e > s:
                hits.append((s, e, term))
            pos = max(e, s + 1)
    hits.sort(key=lambda h: (h[0], -h[1]))
    negated: list[tuple[int, int]] = []
    found: dict[tuple[str, str], Violation] = {}
    for s, e, term in hits:
        if term.negatable and (_negated(masked, s, where, text) or _continues(masked, where, text, s, negated)):
            negated.append((s, e))
            continue
        cat = term.category
        key = (cat.code, flat[s:e])
        if key not in found:
            found[key] = Violation(category=cat.code, label=cat.label, matched=text[where[s]:where[e - 1] + 1],
                                   normalised=flat[s:e], reason=cat.reason, basis=cat.basis)
    return list(found.values())


def messages(violations: list[Violation]) -> list[str]:
    """One Chinese line per category: the phrases found, the reason and the legal basis."""
    by_cat: dict[str, list[Violation]] = {}
    for v in violations:
        by_cat.setdefault(v.category, []).append(v)
    out = []
    for vs in by_cat.values():
        quoted = "".join(_quote(v) for v in vs[:4]) + ("等" if len(vs) > 4 else "")
        out.append(f"{quoted}：{vs[0].reason}（{vs[0].basis}）")
    return out


def check_text(text: str, *, channel: str | None = None) -> list[str]:
    """Problems found in ``text``; empty when it may be used."""
    return messages(find_violations(text, channel=channel))


def assert_clean(text: str, *, channel: str | None = None, field: str | None = None) -> None:
    """Raise ``GuardrailError`` (a ``ValidationError``; under ``field`` when given) if ``text`` fails."""
    violations = find_violations(text, channel=channel)
    if violations:
        lines = messages(violations)
        raise GuardrailError({field: lines} if field else lines, violations)


def assert_fields_clean(fields: Mapping[str, str], *, channel: str | None = None) -> None:
    """Check several fields of one object; the error names each failing field."""
    errors: dict[str, list[str]] = {}
    every: list[Violation] = []
    for name, value in fields.items():
        violations = find_violations(value, channel=channel)
        if violations:
            errors[name] = messages(violations)
            every += violations
    if errors:
        raise GuardrailError(errors, every)


# --- the model door ----------------------------------------------------------------------------------------------

# The channel a talking point is used on: a person speaks it on the phone or at the door.
SPOKEN = "call"


class GuardedModel:
    """Mixin for a model whose texts are checked on every save (``objects.create`` included).

    The model lists its checked fields in ``GUARDED_FIELDS`` and says which channel a text goes out on
    (``guard_channel``). A text that fails may still be saved unchanged to switch it off (``active=False``),
    so a text written before a rule existed can always be withdrawn."""

    GUARDED_FIELDS: tuple[str, ...] = ()

    def guard_channel(self) -> str | None:
        return None

    def guardrail_check(self) -> None:
        assert_fields_clean({f: getattr(self, f) or "" for f in self.GUARDED_FIELDS}, channel=self.guard_channel())

    def _guard_applies(self, update_fields) -> bool:
        touched = set(self.GUARDED_FIELDS) | {"channel"}
        if update_fields is not None and not (set(update_fields) & touched):
            return False
        if self.pk is not None and getattr(self, "active", True) is False:
            stored = type(self)._base_manager.filter(pk=self.pk).values(*self.GUARDED_FIELDS).first()
            if stored is not None and all(stored[f] == getattr(self, f) for f in self.GUARDED_FIELDS):
                return False  # switching an old text off is always allowed
        return True

    def guard(self, update_fields=None) -> None:
        """Check the texts unless the write leaves them alone (see ``_guard_applies``)."""
        if self._guard_applies(update_fields):
            self.guardrail_check()


def guard_raw_save(sender, instance, raw=False, **kwargs) -> None:
    """``pre_save`` receiver for the one door that skips ``Model.save``: a raw save, which is how ``loaddata``
    (fixtures, a copy of another installation's data) writes rows. A guarded text that fails is refused there
    too; connected for every model in ``DunningConfig.ready``."""
    if raw and isinstance(instance, GuardedModel):
        instance.guard(kwargs.get("update_fields"))


def guarded_queryset(base):
    """A QuerySet class whose bulk writes check texts too: ``bulk_create``, ``bulk_update`` and ``update``."""

    class GuardedQuerySet(base):
        def bulk_create(self, objs, *args, **kwargs):
            objs = list(objs)
            for obj in objs:
                obj.guardrail_check()
            return super().bulk_create(objs, *args, **kwargs)

        def bulk_update(self, objs, fields, *args, **kwargs):
            objs = list(objs)
            if set(fields) & (set(self.model.GUARDED_FIELDS) | {"channel"}):
                for obj in objs:
                    obj.guardrail_check()
            return super().bulk_update(objs, fields, *args, **kwargs)

        def update(self, **kwargs):
            guarded = set(self.model.GUARDED_FIELDS) | ({"channel"} if hasattr(self.model, "channel") else set())
            touched = set(kwargs) & guarded
            if touched:
                for name in touched:
                    if not isinstance(kwargs[name], str):
                        raise GuardrailError({name: ["受检查的文字只能以文本写入。"]}, [])
                for row in self.values("pk", *sorted(guarded)):
                    row.update({k: kwargs[k] for k in touched})
                    probe = self.model(**{k: v for k, v in row.items() if k != "pk"})
                    probe.guardrail_check()
            return super().update(**kwargs)

    GuardedQuerySet.__name__ = f"Guarded{base.__name__}"
    return GuardedQuerySet
