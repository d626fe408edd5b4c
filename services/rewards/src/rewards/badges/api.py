"""Badges and titles: operators keep the badge rules and look at a member's badges;
members see the badges they hold and how far they are towards the others."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from rewards.access import Member, Reader, operator_with
from rewards.badges import service as badges
from rewards.badges.domain import (
    MAX_COUNT,
    MAX_WINDOW_DAYS,
    BadgeRule,
    Criterion,
    Progress,
    standing,
)
from rewards.badges.repository import MemberBadge, RuleRow
from rewards.fields import ONE_LINE, Description, ExternalId, Name, text_field
from rewards.rules.domain import Op
from rewards.zones.domain import Zones
from rewards.zones.service import zones_of
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, encode_cursor, keyset_after
from servicekit.types import null_refused, utcnow

router = APIRouter(prefix="/v1/rewards", tags=["rewards: badges"])

# Activity officers run check-ins and quizzes, the events most badges count.
BADGE_KEEPERS = ("owner", "admin", "operator", "activity_officer")
Keeper = Annotated[Principal, operator_with(*BADGE_KEEPERS)]

ID_PATTERN = r"^[0-9A-Za-z-]+$"  # UUIDs, and the default rules' slugs
Id = Annotated[str, Path(min_length=1, max_length=36, pattern=ID_PATTERN)]
Title = Annotated[str, text_field(1, 50, ONE_LINE)]
EventType = Annotated[str, text_field(1, 200, r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
DataPath = Annotated[str, text_field(1, 200, r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
Threshold = Annotated[int, Field(ge=1, le=MAX_COUNT)]
Days = Annotated[int, Field(ge=1, le=MAX_WINDOW_DAYS)]
# Condition values are JSON scalars (or lists of them), stored as JSON: no NUL, no NaN.
Text = Annotated[str, text_field(0, 200)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Scalar = StrictBool | StrictInt | Number | Text
Value = Scalar | Annotated[list[Scalar], Field(max_length=50)] | None


# ----------------------------------------------------------------- schemas


class ConditionIn(BaseModel):
    # Two request models are named ConditionIn (the earning rules' too): OpenAPI names
    # their schemas after their modules, so this one keeps the module it was published
    # from (`rewards__api__badges__ConditionIn` stays the schema's name).
    __module__ = "rewards.api.badges"
    model_config = ConfigDict(extra="forbid")
    path: DataPath
    op: Op
    value: Value = None


# Its annotations are this module's names, not those of the module it names: built here.
ConditionIn.model_rebuild()


class BadgeRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    title: Title | None = Field(None, description="头衔 held with the badge, e.g. 首席分享官")
    criterion: Criterion
    threshold: Threshold = Field(description="Events (count, within_days), days (streak), level")
    event_type: EventType | None = Field(None, description="Counted events; null for level")
    days: Days | None = Field(None, description="The rolling window of within_days")
    repeatable: StrictBool = False
    beneficiary: DataPath = Field("member_id", description="Path of the member in the event")
    conditions: Annotated[list[ConditionIn], Field(max_length=10)] = []
    community_id: ExternalId | None = Field(None, description="Null: every community")
    once_per: DataPath | None = Field(None, description="Path counted once, e.g. membership_id")

    def draft(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


_CLEARABLE = frozenset({"title", "community_id"})


class BadgeRulePatch(BaseModel):
    """Only the fields sent change. What a rule counts (criterion, event type, beneficiary,
    once_per) cannot: archive it and create another."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=null_refused(all_but=_CLEARABLE))
    name: Name | None = None
    description: Description | None = None
    title: Title | None = None
    threshold: Threshold | None = None
    days: Days | None = None
    repeatable: StrictBool | None = None
    conditions: Annotated[list[ConditionIn], Field(max_length=10)] | None = None
    community_id: ExternalId | None = None
    archived: StrictBool | None = None

    @model_validator(mode="after")
    def _null_only_clears_optional_fields(self) -> BadgeRulePatch:
        nulled = sorted(
            name for name in self.model_fields_set - _CLEARABLE if getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"cannot be null: {', '.join(nulled)}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=self.model_fields_set)


class ConditionOut(BaseModel):
    path: str
    op: Op
    value: Any


class BadgeRuleOut(BaseModel):
    id: str
    name: str
    description: str
    title: str | None
    criterion: Criterion
    threshold: int
    event_type: str | None
    days: int | None
    repeatable: bool
    beneficiary: str
    conditions: list[ConditionOut]
    community_id: str | None
    once_per: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: RuleRow) -> BadgeRuleOut:
        rule = row.rule
        return cls(
            id=row.id,
            **_described(rule),
            event_type=rule.event_type,
            beneficiary=rule.beneficiary,
            conditions=[ConditionOut(path=c.path, op=c.op, value=c.value) for c in rule.conditions],
            community_id=rule.community_id,
            once_per=rule.once_per,
            archived=row.archived,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _described(rule: BadgeRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "description": rule.description,
        "title": rule.title,
        "criterion": rule.criterion,
        "threshold": rule.threshold,
        "days": rule.days,
        "repeatable": rule.repeatable,
    }


class BadgeRulePage(BaseModel):
    items: list[BadgeRuleOut]
    next_cursor: str | None


class ProgressOut(BaseModel):
    current: int = Field(description="Events or days towards the next award, or the level")
    target: int


class MemberBadgeOut(BaseModel):
    badge_id: str
    name: str
    description: str
    title: str | None
    criterion: Criterion
    threshold: int
    days: int | None
    repeatable: bool
    archived: bool = Field(description="The rule no longer awards; an earned badge stays")
    earned: bool
    times: int = Field(description="How often it was awarded (repeatable badges)")
    first_awarded_at: datetime | None
    last_awarded_at: datetime | None
    progress: ProgressOut

    @classmethod
    def of(cls, badge: MemberBadge, level: int, now: datetime, zones: Zones) -> MemberBadgeOut:
        rule = badge.row.rule
        progress = badge.progress or Progress()
        towards = standing(rule, progress, level, now, zones.of(rule.community_id))
        return cls(
            badge_id=badge.row.id,
            **_described(rule),
            archived=badge.row.archived,
            earned=progress.times > 0,
            times=progress.times,
            first_awarded_at=progress.first_awarded_at,
            last_awarded_at=progress.last_awarded_at,
            progress=ProgressOut(current=towards.current, target=towards.target),
        )


class MemberBadgePage(BaseModel):
    member_id: str
    titles: list[str] = Field(description="Titles held, the most recently awarded first")
    items: list[MemberBadgeOut]
    next_cursor: str | None


# ------------------------------------------------------------------ operators


@router.get("/badge-rules", summary="Badge rules, oldest first")
async def list_rules(
    request: Request,
    principal: Reader,
    archived: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> BadgeRulePage:
    after = keyset_after(cursor)
    sessions = request.app.state.sessions
    await badges.ensure_set_up(sessions, principal.tenant_id)
    async with read_only(sessions) as session:
        rows = await badges.rules_page(
            session, principal.tenant_id, after=after, limit=limit, archived=archived
        )
    return BadgeRulePage(
        items=[BadgeRuleOut.of(r) for r in rows[:limit]], next_cursor=_next(rows, limit)
    )


@router.post(
    "/badge-rules",
    status_code=201,
    summary="Add a badge rule",
    responses={409: {"description": "Too many active rules"}},
)
async def create_rule(body: BadgeRuleIn, request: Request, principal: Keeper) -> BadgeRuleOut:
    async with transaction(request.app.state.sessions) as session:
        row = await badges.create_rule(session, principal.tenant_id, body.draft())
    return BadgeRuleOut.of(row)


@router.get("/badge-rules/{rule_id}", summary="One badge rule")
async def get_rule(rule_id: Id, request: Request, principal: Reader) -> BadgeRuleOut:
    sessions = request.app.state.sessions
    await badges.ensure_set_up(sessions, principal.tenant_id)
    async with read_only(sessions) as session:
        row = await badges.rule(session, principal.tenant_id, rule_id)
    return BadgeRuleOut.of(row)


@router.patch(
    "/badge-rules/{rule_id}",
    summary="Change a badge rule; `archived` stops or resumes it",
    responses={409: {"description": "Too many active rules"}},
)
async def update_rule(
    rule_id: Id, body: BadgeRulePatch, request: Request, principal: Keeper
) -> BadgeRuleOut:
    async with transaction(request.app.state.sessions) as session:
        row = await badges.update_rule(session, principal.tenant_id, rule_id, body.changes())
    return BadgeRuleOut.of(row)


@router.delete(
    "/badge-rules/{rule_id}",
    status_code=204,
    summary="Archive a badge rule: it awards no more, badges earned stay",
)
async def archive_rule(rule_id: Id, request: Request, principal: Keeper) -> Response:
    async with transaction(request.app.state.sessions) as session:
        await badges.update_rule(session, principal.tenant_id, rule_id, {"archived": True})
    return Response(status_code=204)


@router.get(
    "/members/{member_id}/badges",
    summary="A member's badges and progress (operators)",
    responses={404: {"description": "No points or badges in this tenant"}},
)
async def member_badges(
    member_id: Annotated[ExternalId, Path()],
    request: Request,
    principal: Reader,
    earned: bool = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> MemberBadgePage:
    return await _page(request, principal.tenant_id, member_id, earned, cursor, limit, True)


# -------------------------------------------------------------------- members


@router.get("/me/badges", summary="My badges, titles, and how far I am towards the others")
async def my_badges(
    request: Request,
    principal: Member,
    earned: bool = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> MemberBadgePage:
    return await _page(
        request, principal.tenant_id, principal.subject, earned, cursor, limit, False
    )


async def _page(
    request: Request,
    tenant_id: str,
    member_id: str,
    earned: bool,
    cursor: str | None,
    limit: int,
    must_exist: bool,
) -> MemberBadgePage:
    after = keyset_after(cursor)
    sessions = request.app.state.sessions
    await badges.ensure_set_up(sessions, tenant_id)
    async with read_only(sessions) as session:
        found = await badges.member_badges(
            session,
            tenant_id,
            member_id,
            after=after,
            limit=limit,
            earned_only=earned,
            must_exist=must_exist,
        )
        zones = await zones_of(session, tenant_id)  # a streak is alive until its day ends
    now = utcnow()
    return MemberBadgePage(
        member_id=member_id,
        titles=found.titles,
        items=[MemberBadgeOut.of(b, found.level, now, zones) for b in found.badges[:limit]],
        next_cursor=_next([b.row for b in found.badges], limit),
    )


def _next(rows: list[RuleRow], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor([last.created_at.isoformat(), last.id])
