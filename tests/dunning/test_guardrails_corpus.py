"""The guardrail checker against its corpus (guardrail_corpus.txt): every forbidden phrasing is refused with
the expected category, every lawful one passes; plus normalisation, channel scope and the shipped texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wuye.dunning.guardrail_lexicon import ALLOWS, CATEGORIES, TERMS
from wuye.dunning.guardrails import (
    GuardrailError,
    assert_clean,
    assert_fields_clean,
    check_text,
    find_violations,
    normalise,
)

pytestmark = pytest.mark.once  # no database: scripts/test.sh runs it in one pass only

CORPUS = Path(__file__).with_name("guardrail_corpus.txt")
LINE = re.compile(r"^(forbid|allow)\s*([a-z_]*)\s*(?:@([a-z]+))?\s*\|\s*(.+)$")


def _cases():
    cases = []
    for n, raw in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        m = LINE.match(raw)
        assert m, f"guardrail_corpus.txt line {n} is malformed: {raw!r}"
        verdict, category, channel, text = m.groups()
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), text)
        cases.append(pytest.param(verdict, category or None, channel or "sms", text, id=f"L{n}-{verdict}"))
    return cases


CASES = _cases()


def test_the_corpus_is_large_and_covers_every_category():
    assert len(CASES) >= 100
    forbidden = {c.values[1] for c in CASES if c.values[0] == "forbid"}
    assert forbidden == set(CATEGORIES)
    assert sum(c.values[0] == "allow" for c in CASES) >= 30


@pytest.mark.parametrize(("verdict", "category", "channel", "text"), CASES)
def test_corpus(verdict, category, channel, text):
    found = find_violations(text, channel=channel)
    if verdict == "forbid":
        assert category in {v.category for v in found}, f"{text!r} on {channel} should be refused as {category}"
    else:
        assert found == [], f"{text!r} on {channel} should be allowed, found {[v.message for v in found]}"


def test_normalisation_folds_width_traditional_spacing_and_punctuation():
    assert normalise("停 水、停．电") == "停水停电"
    assert normalise("停\u200b電") == "停电"
    assert normalise("ＡＢＣ　停－電") == "abc停电"
    assert normalise("⽔電") == "水电"  # a Kangxi radical and a traditional character
    assert normalise("{unit} 欠费 ¥1,234.50") == "unit欠费123450"


def test_the_message_names_the_phrase_as_written_the_reason_and_the_law():
    [line] = check_text("逾期將停電。")
    assert "“停電”（即“停电”）" in line
    assert "民法典第九百四十四条" in line
    [v] = find_violations("您的电梯卡将停用", channel="sms")
    assert (v.category, v.matched) == ("access", "电梯卡将停用")


def test_lawyer_wording_is_refused_only_on_automatic_channels():
    text = "公司将委托律师发律师函。"
    for channel in ("sms", "wechat", "email", "notice", "registered", None):
        assert check_text(text, channel=channel), channel
    for channel in ("call", "visit", "referral", "escalate"):
        assert check_text(text, channel=channel) == [], channel
    # impersonating a law firm is refused everywhere
    assert check_text("本律师受物业公司委托", channel="call")


def test_allow_rules_do_not_hide_a_threat_next_to_them():
    assert check_text("停车费未缴将禁止停车")  # the fee name is lawful, the threat is not
    assert check_text("停水电费照收")  # 停水 before a fee name stays forbidden
    assert check_text("收支公示，同时公示欠费业主名单")
    assert check_text("建议向派出所报案，逾期未缴我们将报警")


def test_assert_helpers_raise_a_validation_error_with_fields():
    with pytest.raises(GuardrailError) as exc:
        assert_fields_clean({"subject": "律师函", "body": "请缴费"}, channel="email")
    assert set(exc.value.message_dict) == {"subject"}
    assert exc.value.violations[0].category == "lawyer"
    with pytest.raises(GuardrailError) as exc:
        assert_clean("门卡将失效", channel="sms")
    assert "门卡将失效" in exc.value.messages[0]
    assert exc.value.summary == "违反催缴规范：“门卡将失效”（门禁电梯车辆）"
    with pytest.raises(GuardrailError) as exc:
        assert_clean("停水停电，群里通报，" * 40 + "".join(f"律师函{i}" for i in range(200)))
    assert len(exc.value.summary) <= 300
    assert_clean("请按时缴纳物业费。", channel="sms")


def test_every_lexicon_pattern_compiles_and_every_term_has_a_known_category():
    for term in TERMS:
        assert term.category in CATEGORIES
        re.compile(term.pattern)
    for allow in ALLOWS:
        re.compile(allow.pattern)


def test_shipped_templates_and_talking_points_pass():
    from wuye.casework.talking_points import LIBRARY
    from wuye.dunning.defaults import TEMPLATES

    for code, (_name, channel, subject, body) in TEMPLATES.items():
        assert check_text(subject + "\n" + body, channel=channel) == [], code
    for code, _klass, _reason, title, body in LIBRARY:
        assert check_text(title + "\n" + body, channel="call") == [], code
