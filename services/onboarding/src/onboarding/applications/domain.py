"""Application questionnaires (入群申请): a form per community, answers checked against it,
and optional rules that approve or reject an application on its answers at submit time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_FIELDS = 50
MAX_CHOICES = 50
MAX_RULES = 50
DEFAULT_TEXT_LENGTH = 2000
MAX_TEXT_LENGTH = 10_000

Answer = str | list[str]


class ApplicationStatus(StrEnum):
    PENDING = "pending"  # in the review queue
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the member left before a decision


class FieldKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"  # exactly one of the choices
    MULTI_CHOICE = "multi_choice"  # any number of distinct choices


class FormError(ValueError):
    """A form or its rules are inconsistent (an operator's mistake, refused when set)."""


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    kind: FieldKind
    required: bool = True
    choices: tuple[str, ...] = ()
    max_length: int | None = None  # text only; DEFAULT_TEXT_LENGTH when not given

    def __post_init__(self) -> None:
        if self.kind is FieldKind.TEXT:
            if self.choices:
                raise FormError(f"{self.key}: a text field has no choices")
            if self.max_length is not None and not 1 <= self.max_length <= MAX_TEXT_LENGTH:
                raise FormError(f"{self.key}: max_length is between 1 and {MAX_TEXT_LENGTH}")
            return
        if self.max_length is not None:
            raise FormError(f"{self.key}: only text fields have a max_length")
        if not 1 <= len(self.choices) <= MAX_CHOICES:
            raise FormError(f"{self.key}: a choice field has 1 to {MAX_CHOICES} choices")
        if len(set(self.choices)) != len(self.choices):
            raise FormError(f"{self.key}: choices are distinct")

    @property
    def text_limit(self) -> int:
        return self.max_length or DEFAULT_TEXT_LENGTH


@dataclass(frozen=True)
class FieldError:
    key: str
    message: str


class InvalidAnswers(ValueError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.key}: {e.message}" for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class Form:
    fields: tuple[FormField, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.fields) <= MAX_FIELDS:
            raise FormError(f"a form has 1 to {MAX_FIELDS} fields")
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise FormError("field keys are distinct")

    def field(self, key: str) -> FormField | None:
        return next((f for f in self.fields if f.key == key), None)

    def check(self, answers: Mapping[str, Any]) -> dict[str, Answer]:
        """The answers, normalized (text stripped, empty optional answers dropped).

        Raises InvalidAnswers listing every problem at once, so the applicant fixes all of
        them in one go rather than one per round trip.
        """
        unknown = [key for key in answers if self.field(key) is None]
        errors = [FieldError(key, "not a field of this form") for key in unknown]
        clean: dict[str, Answer] = {}
        for spec in self.fields:
            value, problem = _check_answer(spec, answers.get(spec.key))
            if problem:
                errors.append(FieldError(spec.key, problem))
            elif value is not None:
                clean[spec.key] = value
        if errors:
            raise InvalidAnswers(errors)
        return clean


def _check_answer(spec: FormField, raw: Any) -> tuple[Answer | None, str | None]:
    """(normalized answer, or None when left empty; problem, or None)."""
    if isinstance(raw, str) and spec.kind is FieldKind.TEXT:
        raw = raw.strip()
    if raw is None or raw == "" or raw == []:
        return None, ("an answer is required" if spec.required else None)
    if spec.kind is FieldKind.MULTI_CHOICE:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            return None, "a list of choices"
        return _choices(spec, raw)
    if not isinstance(raw, str):
        return None, "a string"
    if spec.kind is FieldKind.CHOICE:
        return _choices(spec, raw)
    if len(raw) > spec.text_limit:
        return None, f"at most {spec.text_limit} characters"
    return raw, None


def _choices(spec: FormField, answer: Answer) -> tuple[Answer | None, str | None]:
    picked = [answer] if isinstance(answer, str) else answer
    unknown = [choice for choice in picked if choice not in spec.choices]
    if unknown:
        return None, f"not a choice: {', '.join(unknown)}"
    if len(set(picked)) != len(picked):
        return None, "each choice is picked once"
    return answer, None


# ---------------------------------------------------------------- automatic decisions


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Op(StrEnum):
    EQUALS = "equals"  # the answer is the value (a multi choice: exactly these values)
    ANY_OF = "any_of"  # the answer is one of the values (a multi choice: picks at least one)


@dataclass(frozen=True)
class Condition:
    key: str
    op: Op
    values: tuple[str, ...]

    def holds(self, answers: Mapping[str, Answer]) -> bool:
        answer = answers.get(self.key)
        if answer is None:
            return False  # an unanswered optional field matches nothing
        picked = {answer} if isinstance(answer, str) else set(answer)
        if self.op is Op.EQUALS:
            return picked == set(self.values)
        return bool(picked & set(self.values))


@dataclass(frozen=True)
class Rule:
    """When every condition holds, the application is decided without a reviewer."""

    decision: Decision
    conditions: tuple[Condition, ...]
    reason: str | None = None  # shown to a rejected applicant

    def matches(self, answers: Mapping[str, Answer]) -> bool:
        return all(condition.holds(answers) for condition in self.conditions)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str | None


def check_rules(form: Form, rules: Sequence[Rule]) -> None:
    """Rules must refer to the form's fields and, for choice fields, to existing choices
    (a typo would otherwise silently never match)."""
    if len(rules) > MAX_RULES:
        raise FormError(f"at most {MAX_RULES} rules")
    for number, rule in enumerate(rules, start=1):
        if not rule.conditions:
            raise FormError(f"rule {number}: at least one condition")
        for condition in rule.conditions:
            _check_condition(form, number, condition)


def _check_condition(form: Form, number: int, condition: Condition) -> None:
    spec = form.field(condition.key)
    if spec is None:
        raise FormError(f"rule {number}: no field {condition.key!r}")
    if not condition.values:
        raise FormError(f"rule {number}: at least one value")
    single = condition.op is Op.EQUALS and spec.kind is not FieldKind.MULTI_CHOICE
    if single and len(condition.values) != 1:
        raise FormError(f"rule {number}: 'equals' on {spec.key!r} takes one value")
    if spec.kind is not FieldKind.TEXT:
        unknown = [v for v in condition.values if v not in spec.choices]
        if unknown:
            raise FormError(f"rule {number}: not choices of {spec.key!r}: {', '.join(unknown)}")


def evaluate(rules: Sequence[Rule], answers: Mapping[str, Answer]) -> Verdict | None:
    """The automatic decision, or None when a reviewer decides.

    A matching reject rule wins over any approve rule whatever their order: an answer the
    operator flagged as disqualifying must never slip through on another rule.
    """
    matching = [rule for rule in rules if rule.matches(answers)]
    for decision in (Decision.REJECT, Decision.APPROVE):
        for rule in matching:
            if rule.decision is decision:
                return Verdict(decision, rule.reason)
    return None


# ---------------------------------------------------------------- storage shape


@dataclass(frozen=True)
class Questionnaire:
    """A community's form and its rules, as stored (plain JSON) with the community."""

    form: Form
    rules: tuple[Rule, ...] = field(default=())

    def __post_init__(self) -> None:
        check_rules(self.form, self.rules)

    def as_json(self) -> dict[str, Any]:
        return {
            "fields": [_field_json(f) for f in self.form.fields],
            "rules": [_rule_json(r) for r in self.rules],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Questionnaire:
        fields = tuple(
            FormField(
                key=f["key"],
                label=f["label"],
                kind=FieldKind(f["kind"]),
                required=bool(f.get("required", True)),
                choices=tuple(f.get("choices") or ()),
                max_length=f.get("max_length"),
            )
            for f in raw["fields"]
        )
        rules = tuple(
            Rule(
                decision=Decision(r["decision"]),
                conditions=tuple(
                    Condition(c["key"], Op(c["op"]), tuple(c["values"])) for c in r["conditions"]
                ),
                reason=r.get("reason"),
            )
            for r in raw.get("rules") or ()
        )
        return cls(Form(fields), rules)


def _field_json(spec: FormField) -> dict[str, Any]:
    return {
        "key": spec.key,
        "label": spec.label,
        "kind": spec.kind.value,
        "required": spec.required,
        "choices": list(spec.choices),
        "max_length": spec.max_length,
    }


def _rule_json(rule: Rule) -> dict[str, Any]:
    conditions = [
        {"key": c.key, "op": c.op.value, "values": list(c.values)} for c in rule.conditions
    ]
    return {"decision": rule.decision.value, "conditions": conditions, "reason": rule.reason}
