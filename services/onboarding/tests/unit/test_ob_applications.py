"""Application questionnaires: answers checked against the form, automatic decisions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboarding.applications.domain import (
    DEFAULT_TEXT_LENGTH,
    Condition,
    Decision,
    FieldKind,
    Form,
    FormError,
    FormField,
    InvalidAnswers,
    Op,
    Questionnaire,
    Rule,
    Verdict,
    check_rules,
    evaluate,
)

FORM = Form(
    (
        FormField("name", "怎么称呼", FieldKind.TEXT, max_length=20),
        FormField("city", "所在城市", FieldKind.CHOICE, choices=("杭州", "上海", "其他")),
        FormField("goals", "想收获什么", FieldKind.MULTI_CHOICE, choices=("读书", "交友", "广告")),
        FormField("note", "补充", FieldKind.TEXT, required=False),
    )
)


def errors_of(answers: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidAnswers) as raised:
        FORM.check(answers)
    return {e.key: e.message for e in raised.value.errors}


def test_valid_answers_are_normalized() -> None:
    clean = FORM.check({"name": "  小林 ", "city": "杭州", "goals": ["读书"], "note": "   "})
    assert clean == {"name": "小林", "city": "杭州", "goals": ["读书"]}


def test_every_problem_is_listed_at_once() -> None:
    assert errors_of({"city": "北京", "goals": "读书", "name": "x" * 21, "age": 3}) == {
        "age": "not a field of this form",
        "name": "at most 20 characters",
        "city": "not a choice: 北京",
        "goals": "a list of choices",
    }
    assert errors_of({"name": " ", "goals": []}) == {
        "name": "an answer is required",
        "city": "an answer is required",
        "goals": "an answer is required",
    }
    assert errors_of({"name": 3, "city": ["杭州"], "goals": ["读书", "读书"]}) == {
        "name": "a string",
        "city": "a string",
        "goals": "each choice is picked once",
    }


def test_text_length_defaults() -> None:
    form = Form((FormField("why", "Why", FieldKind.TEXT),))
    assert form.check({"why": "x" * DEFAULT_TEXT_LENGTH})
    with pytest.raises(InvalidAnswers):
        form.check({"why": "x" * (DEFAULT_TEXT_LENGTH + 1)})


@pytest.mark.parametrize(
    "build",
    [
        lambda: Form(()),
        lambda: Form((FormField("a", "A", FieldKind.TEXT), FormField("a", "B", FieldKind.TEXT))),
        lambda: FormField("a", "A", FieldKind.CHOICE),
        lambda: FormField("a", "A", FieldKind.CHOICE, choices=("x", "x")),
        lambda: FormField("a", "A", FieldKind.TEXT, choices=("x",)),
        lambda: FormField("a", "A", FieldKind.TEXT, max_length=0),
        lambda: FormField("a", "A", FieldKind.CHOICE, choices=("x",), max_length=3),
    ],
)
def test_inconsistent_forms_are_refused(build: Any) -> None:
    with pytest.raises(FormError):
        build()


def rule(decision: Decision, *conditions: Condition, reason: str | None = None) -> Rule:
    return Rule(decision, conditions, reason)


ADS = rule(Decision.REJECT, Condition("goals", Op.ANY_OF, ("广告",)), reason="不接受广告")
LOCAL = rule(Decision.APPROVE, Condition("city", Op.EQUALS, ("杭州",)))


def test_rules_decide_and_a_reject_wins() -> None:
    rules = [LOCAL, ADS]  # the approve rule first: order does not matter
    assert evaluate(rules, {"city": "杭州", "goals": ["读书"]}) == Verdict(Decision.APPROVE, None)
    assert evaluate(rules, {"city": "杭州", "goals": ["读书", "广告"]}) == Verdict(
        Decision.REJECT, "不接受广告"
    )
    assert evaluate(rules, {"city": "上海", "goals": ["读书"]}) is None  # a reviewer decides
    assert evaluate([], {"city": "杭州"}) is None


def test_conditions() -> None:
    both = rule(
        Decision.APPROVE,
        Condition("city", Op.ANY_OF, ("杭州", "上海")),
        Condition("goals", Op.EQUALS, ("交友", "读书")),
    )
    assert both.matches({"city": "上海", "goals": ["读书", "交友"]})
    assert not both.matches({"city": "上海", "goals": ["读书"]})
    assert not both.matches({"goals": ["读书", "交友"]})  # unanswered never matches
    note = Condition("note", Op.EQUALS, ("老会员",))
    assert note.holds({"note": "老会员"}) and not note.holds({})


@pytest.mark.parametrize(
    "bad",
    [
        rule(Decision.APPROVE),
        rule(Decision.APPROVE, Condition("age", Op.EQUALS, ("3",))),
        rule(Decision.APPROVE, Condition("city", Op.EQUALS, ("北京",))),
        rule(Decision.APPROVE, Condition("city", Op.EQUALS, ("杭州", "上海"))),
        rule(Decision.APPROVE, Condition("city", Op.ANY_OF, ())),
    ],
)
def test_rules_must_fit_the_form(bad: Rule) -> None:
    with pytest.raises(FormError):
        check_rules(FORM, [bad])


def test_questionnaire_round_trips_through_json() -> None:
    stored = Questionnaire(FORM, (LOCAL, ADS))
    assert Questionnaire.from_json(stored.as_json()) == stored
    with pytest.raises(FormError):
        Questionnaire(FORM, (rule(Decision.REJECT, Condition("nope", Op.ANY_OF, ("x",))),))


answers = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=30), st.integers()),
        "city": st.sampled_from(["杭州", "上海", "其他", "北京", ""]),
        "goals": st.lists(st.sampled_from(["读书", "交友", "广告", "x"]), max_size=4),
        "note": st.text(max_size=5),
    },
)


@given(answers)
def test_checked_answers_always_satisfy_the_form(raw: dict[str, Any]) -> None:
    try:
        clean = FORM.check(raw)
    except InvalidAnswers as error:
        assert error.errors
        return
    for spec in FORM.fields:
        assert (spec.key in clean) or not spec.required
    assert clean.get("city") in ("杭州", "上海", "其他")
    assert set(clean["goals"]) <= {"读书", "交友", "广告"}
    verdict = evaluate([LOCAL, ADS], clean)
    if "广告" in clean["goals"]:
        assert verdict == Verdict(Decision.REJECT, "不接受广告")
