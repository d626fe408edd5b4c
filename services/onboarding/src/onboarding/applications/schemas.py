"""Request and response bodies of questionnaires, applications and their review.

RUF012 is silenced on list and dict defaults: they are pydantic fields (pydantic copies
them), which ruff cannot tell through ``Strict`` defined in another module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from onboarding.applications.domain import (
    MAX_CHOICES,
    MAX_FIELDS,
    MAX_RULES,
    MAX_TEXT_LENGTH,
    Condition,
    Decision,
    FieldKind,
    Form,
    FormField,
    Op,
    Questionnaire,
    Rule,
)
from onboarding.membership.schemas import MembershipOut
from onboarding.schemas import Code, Id, Name, Reason, RulesVersion, Strict
from servicekit.text import Line, TextJson, trimmed

FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Choice = Annotated[str, trimmed(1, 200)]
MAX_BULK_REVIEW = 100


class FormFieldIn(Strict):
    key: FieldKey
    label: Name
    kind: Literal["text", "choice", "multi_choice"]
    required: bool = True
    choices: Annotated[list[Choice], Field(max_length=MAX_CHOICES)] = []  # noqa: RUF012
    max_length: Annotated[int, Field(ge=1, le=MAX_TEXT_LENGTH)] | None = None


class ConditionIn(Strict):
    key: FieldKey
    op: Literal["equals", "any_of"]
    values: Annotated[list[Choice], Field(min_length=1, max_length=MAX_CHOICES)]


class RuleIn(Strict):
    decision: Literal["approve", "reject"]
    conditions: Annotated[list[ConditionIn], Field(min_length=1, max_length=10)]
    reason: Reason | None = None  # shown to a rejected applicant


class QuestionnaireIn(Strict):
    """The application form and optional rules deciding on the answers at submit time."""

    fields: Annotated[list[FormFieldIn], Field(min_length=1, max_length=MAX_FIELDS)]
    rules: Annotated[list[RuleIn], Field(max_length=MAX_RULES)] = []  # noqa: RUF012

    @model_validator(mode="after")
    def _consistent(self) -> QuestionnaireIn:
        self.domain()  # a FormError is a ValueError: reported as a validation problem
        return self

    def domain(self) -> Questionnaire:
        fields = tuple(
            FormField(f.key, f.label, FieldKind(f.kind), f.required, tuple(f.choices), f.max_length)
            for f in self.fields
        )
        rules = tuple(
            Rule(
                Decision(r.decision),
                tuple(Condition(c.key, Op(c.op), tuple(c.values)) for c in r.conditions),
                r.reason,
            )
            for r in self.rules
        )
        return Questionnaire(Form(fields), rules)


class FormFieldOut(BaseModel):
    key: str
    label: str
    kind: str
    required: bool
    choices: list[str]
    max_length: int | None


class ApplicationFormOut(BaseModel):
    """What applicants see: the fields; the rules stay with the operators."""

    fields: list[FormFieldOut]


class ConditionOut(BaseModel):
    key: str
    op: str
    values: list[str]


class RuleOut(BaseModel):
    decision: str
    conditions: list[ConditionOut]
    reason: str | None


class QuestionnaireOut(ApplicationFormOut):
    rules: list[RuleOut]


class ApplicationCreate(Strict):
    answers: Annotated[dict[Line, TextJson], Field(max_length=MAX_FIELDS)]
    # The code that brought the applicant: it opens private communities and is the source.
    # Both: the invite is the source (attribution), the routing code places them.
    routing_code: Code | None = None
    invite_code: Code | None = None
    accepted_rules_version: RulesVersion | None = None


class ApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    member_id: str
    membership_id: str
    status: str
    answers: dict[str, Any]
    auto: bool
    decided_by: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


class ApplicationResult(BaseModel):
    """An application with the membership it moved (active, trial, pending_payment...)."""

    application: ApplicationOut
    membership: MembershipOut

    @classmethod
    def of(cls, application: Any, membership: Any) -> ApplicationResult:
        return cls(
            application=ApplicationOut.model_validate(application),
            membership=MembershipOut.of(membership),
        )


class ApproveIn(Strict):
    reason: Reason | None = None


class RejectIn(Strict):
    reason: Reason  # the applicant is told why


class BulkReviewIn(Strict):
    application_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_BULK_REVIEW)]
    decision: Literal["approve", "reject"]
    reason: Reason | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BulkReviewIn:
        if len(set(self.application_ids)) != len(self.application_ids):
            raise ValueError("each application id once")
        if self.decision == "reject" and self.reason is None:
            raise ValueError("a rejection gives a reason")
        return self


class ProblemOut(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None


class BulkReviewItem(BaseModel):
    application_id: str
    status: int  # as if this id had been reviewed alone: 200, or the problem's status
    result: ApplicationResult | None
    problem: ProblemOut | None


class BulkReviewOut(BaseModel):
    results: list[BulkReviewItem]
