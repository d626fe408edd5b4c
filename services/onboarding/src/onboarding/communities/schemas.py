"""Request and response bodies of communities and their groups.

RUF012 is silenced on list and dict defaults: they are pydantic fields (pydantic copies
them), which ruff cannot tell through ``Strict`` defined in another module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
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

from onboarding.applications.schemas import ApplicationFormOut, QuestionnaireIn
from onboarding.schemas import (
    Capacity,
    Currency,
    GroupKind,
    Level,
    Name,
    Strict,
    given,
    refuse_null,
)
from servicekit.text import LINE_PATTERN, TEXT_PATTERN, TextJson, strings_follow, trimmed
from servicekit.types import null_refused

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,58}[a-z0-9])$")]
_TIMEZONES = frozenset(available_timezones())
# The validator below decides; the document lists the same names (this machine's tz data).
TimeZone = Annotated[str, Field(json_schema_extra={"enum": sorted(_TIMEZONES)})]

Tier = Literal["trial", "core"]
City = Annotated[str, trimmed(1, 100)]
GroupTag = Annotated[str, trimmed(1, 50)]
GroupTags = Annotated[list[GroupTag], Field(max_length=20)]
SettingKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=LINE_PATTERN)]
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
    dict[SettingKey, TextJson], Field(max_length=50), AfterValidator(_bounded_settings)
]


ReminderDays = Annotated[list[ReminderDay], Field(max_length=10), AfterValidator(_reminder_days)]


class AutoUpgradeIn(Strict):
    """Trial → core: move members out of a trial-kind group into a ``to_group_kind`` group
    when they pay and/or when rewards reports ``level``."""

    to_group_kind: GroupKind = "core"
    on: Annotated[list[Literal["payment", "level"]], Field(min_length=1, max_length=2)] = [  # noqa: RUF012
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
    tags: GroupTags = []  # noqa: RUF012 (... or with one of these interests: the directory's tags)


NOT_NULL_GROUP = ("name", "capacity", "tags")


def text_rule_and(extra: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Strict's schema rule, then ``extra``: a subclass's json_schema_extra replaces its own."""
    text_rule = strings_follow(TEXT_PATTERN)

    def both(schema: dict[str, Any]) -> None:
        text_rule(schema)
        extra(schema)

    return both


class GroupUpdate(Strict):
    """PATCH: the fields given change; null clears a requirement or label."""

    model_config = ConfigDict(json_schema_extra=text_rule_and(null_refused(NOT_NULL_GROUP)))

    name: Name | None = None
    capacity: Capacity | None = None  # never below the members seated (409)
    min_tier: Tier | None = None
    min_level: Level | None = None
    city: City | None = None
    tags: GroupTags | None = None

    @model_validator(mode="after")
    def _not_null(self) -> GroupUpdate:
        refuse_null(self, NOT_NULL_GROUP)
        return self

    def changes(self) -> dict[str, Any]:
        return given(self)


class CommunityCreate(Strict):
    slug: Slug
    name: Name
    description: Annotated[str, StringConstraints(max_length=4000)] = ""
    visibility: Literal["public", "private", "secret"] = "public"
    timezone: TimeZone = "Asia/Shanghai"
    join_policy: Literal["open", "paid"] = "open"
    price_cents: Annotated[int, Field(gt=0, le=100_000_000)] | None = None
    currency: Currency | None = None
    term_kind: Literal["rolling", "fixed"] | None = None
    term_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    term_fixed_ends_at: AwareDatetime | None = None
    trial_days: Annotated[int, Field(ge=0, le=365)] = 0
    refund_window_hours: Annotated[int, Field(ge=0, le=8760)] = 0
    groups: Annotated[list[GroupCreate], Field(max_length=50)] = []  # noqa: RUF012
    application_form: QuestionnaireIn | None = None  # set: joining takes an application
    min_level: Level | None = None  # set: joining needs this rewards level
    value_statement: Annotated[str, StringConstraints(max_length=1000)] = ""  # 定位
    settings: CommunitySettings = {}  # noqa: RUF012
    renewal_reminder_days: ReminderDays = [7, 1]  # noqa: RUF012 (reminders N days before a term ends)
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

    model_config = ConfigDict(json_schema_extra=text_rule_and(null_refused(COMMUNITY_NOT_NULL)))
    slug: Slug | None = None
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    value_statement: Annotated[str, StringConstraints(max_length=1000)] | None = None
    visibility: Literal["public", "private", "secret"] | None = None
    timezone: TimeZone | None = None
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
        refuse_null(self, COMMUNITY_NOT_NULL)
        return self

    def changes(self) -> dict[str, Any]:
        return given(self)


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
