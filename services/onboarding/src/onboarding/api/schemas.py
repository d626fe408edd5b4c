"""Request and response bodies of the onboarding API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from onboarding.domain.applications import (
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
from servicekit.types import contains_nul

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,58}[a-z0-9])$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
GroupKind = Literal["trial", "core", "interest", "local", "temporary"]
Capacity = Annotated[int, Field(ge=1, le=100_000)]
FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Choice = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
MAX_BULK_REVIEW = 100
Level = Annotated[int, Field(ge=1, le=1000)]
# The rules (群规) version the member accepted; required to join a community that has rules.
RulesVersion = Annotated[int, Field(ge=1, le=1_000_000)]

T = TypeVar("T")
_TIMEZONES = frozenset(available_timezones())


class Strict(BaseModel):
    """Request bodies: unknown fields and NUL characters are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold U+0000; refused here, it never becomes a driver error.
        if contains_nul(data):
            raise ValueError("text cannot contain the NUL character (U+0000)")
        return data


Tier = Literal["trial", "core"]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
GroupTag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
GroupTags = Annotated[list[GroupTag], Field(max_length=20)]
SettingKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_SETTINGS_BYTES = 8192
ReminderDay = Annotated[int, Field(ge=1, le=365)]


def _bounded_settings(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_SETTINGS_BYTES:
        raise ValueError(f"at most {MAX_SETTINGS_BYTES} bytes of settings (as JSON)")
    return value


def _reminder_days(value: list[int]) -> list[int]:
    return sorted(set(value), reverse=True)  # each offset once, the earliest reminder first


CommunitySettings = Annotated[
    dict[SettingKey, Any], Field(max_length=50), AfterValidator(_bounded_settings)
]
ReminderDays = Annotated[list[ReminderDay], Field(max_length=10), AfterValidator(_reminder_days)]


class AutoUpgradeIn(Strict):
    """Trial → core: move members out of a trial-kind group into a ``to_group_kind`` group
    when they pay and/or when rewards reports ``level``."""

    to_group_kind: GroupKind = "core"
    on: Annotated[list[Literal["payment", "level"]], Field(min_length=1, max_length=2)] = [
        "payment"
    ]
    level: Level | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AutoUpgradeIn:
        if len(set(self.on)) != len(self.on):
            raise ValueError("each trigger once")
        if ("level" in self.on) != (self.level is not None):
            raise ValueError("a level is given exactly when the upgrade is on level")
        if self.to_group_kind == "trial":
            raise ValueError("an upgrade moves out of the trial groups")
        return self


class GroupCreate(Strict):
    name: Name
    kind: GroupKind = "core"
    capacity: Capacity = 500
    min_tier: Tier | None = None  # core: trial members are not placed here
    min_level: Level | None = None  # placed here from this rewards level on
    city: City | None = None  # labels: routing prefers the group for members of that city
    tags: GroupTags = []  # ... or with one of these interests (the directory's tags)


class GroupUpdate(Strict):
    """PATCH: the fields given change; null clears a requirement or label."""

    name: Name | None = None
    capacity: Capacity | None = None  # never below the members seated (409)
    min_tier: Tier | None = None
    min_level: Level | None = None
    city: City | None = None
    tags: GroupTags | None = None

    @model_validator(mode="after")
    def _not_null(self) -> GroupUpdate:
        _refuse_null(self, ("name", "capacity", "tags"))
        return self

    def changes(self) -> dict[str, Any]:
        return _given(self)


def _given(model: BaseModel) -> dict[str, Any]:
    """The fields the client sent, nested models whole (defaults included)."""
    return {k: v for k, v in model.model_dump().items() if k in model.model_fields_set}


def _refuse_null(model: BaseModel, names: tuple[str, ...]) -> None:
    nulls = [n for n in names if n in model.model_fields_set and getattr(model, n) is None]
    if nulls:
        raise ValueError(f"cannot be null: {', '.join(nulls)}")


class FormFieldIn(Strict):
    key: FieldKey
    label: Name
    kind: Literal["text", "choice", "multi_choice"]
    required: bool = True
    choices: Annotated[list[Choice], Field(max_length=MAX_CHOICES)] = []
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
    rules: Annotated[list[RuleIn], Field(max_length=MAX_RULES)] = []

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


class CommunityCreate(Strict):
    slug: Slug
    name: Name
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    visibility: Literal["public", "private", "secret"] = "public"
    timezone: str = "Asia/Shanghai"
    join_policy: Literal["open", "paid"] = "open"
    price_cents: Annotated[int, Field(gt=0, le=100_000_000)] | None = None
    currency: Currency | None = None
    term_kind: Literal["rolling", "fixed"] | None = None
    term_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    term_fixed_ends_at: AwareDatetime | None = None
    trial_days: Annotated[int, Field(ge=0, le=365)] = 0
    refund_window_hours: Annotated[int, Field(ge=0, le=8760)] = 0
    groups: Annotated[list[GroupCreate], Field(max_length=50)] = []
    application_form: QuestionnaireIn | None = None  # set: joining takes an application
    min_level: Level | None = None  # set: joining needs this rewards level
    value_statement: Annotated[str, StringConstraints(max_length=1000)] = ""  # 定位
    settings: CommunitySettings = {}
    renewal_reminder_days: ReminderDays = [7, 1]  # reminders N days before a term ends
    auto_upgrade: AutoUpgradeIn | None = None
    guest_speaker_limit: Annotated[int, Field(ge=0, le=1000)] = 10  # 嘉宾 at a time

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _TIMEZONES:
            raise ValueError("an IANA time zone such as Asia/Shanghai")
        return value


COMMUNITY_NOT_NULL = (
    "slug",
    "name",
    "description",
    "value_statement",
    "visibility",
    "timezone",
    "settings",
    "trial_days",
    "refund_window_hours",
    "renewal_reminder_days",
    "guest_speaker_limit",
)


class CommunityUpdate(Strict):
    """PATCH: the fields given change. Paid terms apply to future payments only; null clears
    a term field (checked like creation) or turns the auto upgrade off."""

    slug: Slug | None = None
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    value_statement: Annotated[str, StringConstraints(max_length=1000)] | None = None
    visibility: Literal["public", "private", "secret"] | None = None
    timezone: str | None = None
    settings: CommunitySettings | None = None
    price_cents: Annotated[int, Field(gt=0, le=100_000_000)] | None = None
    currency: Currency | None = None
    term_kind: Literal["rolling", "fixed"] | None = None
    term_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    term_fixed_ends_at: AwareDatetime | None = None
    trial_days: Annotated[int, Field(ge=0, le=365)] | None = None
    refund_window_hours: Annotated[int, Field(ge=0, le=8760)] | None = None
    renewal_reminder_days: ReminderDays | None = None
    auto_upgrade: AutoUpgradeIn | None = None
    guest_speaker_limit: Annotated[int, Field(ge=0, le=1000)] | None = None  # 嘉宾 at a time

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in _TIMEZONES:
            raise ValueError("an IANA time zone such as Asia/Shanghai")
        return value

    @model_validator(mode="after")
    def _not_null(self) -> CommunityUpdate:
        _refuse_null(self, COMMUNITY_NOT_NULL)
        return self

    def changes(self) -> dict[str, Any]:
        return _given(self)


class CommunityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    slug: str
    name: str
    description: str
    visibility: str
    timezone: str
    join_policy: str
    price_cents: int | None
    currency: str | None
    term_kind: str | None
    term_days: int | None
    term_fixed_ends_at: datetime | None
    trial_days: int
    refund_window_hours: int
    application_form: ApplicationFormOut | None
    min_level: int | None
    value_statement: str
    settings: dict[str, Any]
    renewal_reminder_days: list[int]
    auto_upgrade: dict[str, Any] | None
    guest_speaker_limit: int
    rules_version: int | None  # the current rules (群规); joining accepts them
    created_at: datetime


class LevelGate(Strict):
    min_level: Level | None  # null: anyone may join


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    name: str
    kind: str
    capacity: int
    member_count: int
    routing_code_id: str | None
    min_tier: str | None
    min_level: int | None
    city: str | None
    tags: list[str]
    created_at: datetime


class RoutingCodeCreate(Strict):
    community_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    code: Code
    group_ids: Annotated[list[str], Field(min_length=1, max_length=100)]
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    overflow_prefix: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    overflow_kind: GroupKind = "core"
    overflow_capacity: Capacity = 500


class RoutingCodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    code: str
    channel: str | None
    group_ids: list[str]
    overflow_prefix: str
    overflow_kind: str
    overflow_capacity: int
    overflow_count: int
    created_at: datetime


class Source(BaseModel):
    kind: str
    code: str | None
    channel: str | None
    inviter_id: str | None


class MembershipOut(BaseModel):
    id: str
    community_id: str
    member_id: str
    status: str
    tier: str
    group_id: str | None
    mentor_id: str | None  # assigned in turn among the community's mentors on arrival
    source: Source
    activated_at: datetime | None
    term_ends_at: datetime | None
    refund_window_ends_at: datetime | None
    created_at: datetime
    status_changed_at: datetime

    @classmethod
    def of(cls, row: Any) -> MembershipOut:
        source = Source(
            kind=row.source_kind,
            code=row.source_code,
            channel=row.source_channel,
            inviter_id=row.inviter_id,
        )
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "source"}
        return cls(source=source, **fields)


class PaymentCreate(Strict):
    reference: Reference  # the payment's id in the tenant's payment system
    community_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    member_id: ExternalId
    amount_cents: Annotated[int, Field(gt=0, le=100_000_000)]
    currency: Currency
    accepted_rules_version: RulesVersion | None = None  # when the payment creates the membership


class PaymentOut(BaseModel):
    payment_id: str
    membership: MembershipOut


class RefundCreate(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class ProfileOut(BaseModel):
    member_id: str
    display_name: str | None
    profile: dict[str, Any]
    tags: list[str]


class ApplicationCreate(Strict):
    answers: Annotated[dict[str, Any], Field(max_length=MAX_FIELDS)]
    # The code that brought the applicant: it opens private communities and is the source.
    routing_code: Code | None = None
    invite_code: Code | None = None
    accepted_rules_version: RulesVersion | None = None

    @model_validator(mode="after")
    def _one_code(self) -> ApplicationCreate:
        if self.routing_code and self.invite_code:
            raise ValueError("a routing code or an invite code, not both")
        return self


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


class InviteCreate(Strict):
    community_id: Id
    code: Code | None = None  # generated (8 characters, no look-alikes) when not given
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    inviter_id: ExternalId | None = None  # a member of the community
    target_group_id: Id | None = None
    max_uses: Annotated[int, Field(ge=1, le=1_000_000)] | None = 1  # null: unlimited
    expires_at: AwareDatetime | None = None


class InviteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    code: str
    channel: str | None
    inviter_id: str | None
    target_group_id: str | None
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: str
    created_at: datetime


class JoinIn(Strict):
    """The optional body of the join endpoints (direct, routing code, invite)."""

    accepted_rules_version: RulesVersion | None = None
