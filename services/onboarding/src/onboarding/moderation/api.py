"""Moderation: members report and appeal; moderators work the queues, sanction and decide.

Moderator endpoints take any token and ask ``permissions.authorize`` (tenant operators, or
members holding a community role that moderates); another tenant's ids are 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from onboarding.access import Member
from onboarding.moderation.domain import (
    Ladder,
    ReportCategory,
    ReportStatus,
    ReportTarget,
    SanctionKind,
    SanctionStatus,
    Step,
)
from onboarding.moderation.ladders import steps_json
from onboarding.moderation.reports import NewReport
from onboarding.moderation.repository import ReportQuery, SanctionQuery
from onboarding.moderation.sanctions import NewSanction
from onboarding.moderation.service import Moderation
from onboarding.schemas import ExternalId, Id, Reason, Strict
from servicekit.auth import CurrentPrincipal
from servicekit.pagination import Cursor, Limit, Page, keyset_after, page_of
from servicekit.problems import problem_responses
from servicekit.text import trimmed

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: moderation"])
me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])


async def moderation_service(request: Request) -> Moderation:
    return Moderation(request.app.state.sessions)


ModerationDep = Annotated[Moderation, Depends(moderation_service)]
Hours = Annotated[int, Field(ge=1, le=24 * 3650)]
Text = Annotated[str, trimmed(1, 2000)]
CommunityFilter = Annotated[str | None, Query(max_length=36)]

# ---------------------------------------------------------------- bodies


class StepIn(Strict):
    kind: SanctionKind
    duration_hours: Hours | None = None  # mutes only


class LadderIn(Strict):
    steps: Annotated[list[StepIn], Field(min_length=1, max_length=20)]
    strike_decay_days: Annotated[int, Field(ge=1, le=3650)] = 90

    @model_validator(mode="after")
    def _consistent(self) -> LadderIn:
        self.domain()  # a mute without a duration (or the reverse) is a validation problem
        return self

    def domain(self) -> Ladder:
        steps = tuple(
            Step(s.kind, timedelta(hours=s.duration_hours) if s.duration_hours else None)
            for s in self.steps
        )
        return Ladder(steps, timedelta(days=self.strike_decay_days))


class StepOut(BaseModel):
    kind: str
    duration_hours: int | None


class LadderOut(BaseModel):
    steps: list[StepOut]
    strike_decay_days: int
    default: bool  # the community uses the default ladder

    @classmethod
    def of(cls, ladder: Ladder, *, default: bool) -> LadderOut:
        steps = [StepOut(**step) for step in steps_json(ladder)]
        decay = ladder.strike_decay // timedelta(days=1)
        return cls(steps=steps, strike_decay_days=decay, default=default)


class SanctionCreate(Strict):
    member_id: ExternalId
    reason: Reason
    kind: SanctionKind | None = None  # null: the next step of the community's ladder
    duration_hours: Hours | None = None  # an explicit mute's length
    tenant_wide: bool = False  # a ban in every community of the tenant (tenant operators)
    report_id: Id | None = None  # the report this answers: closed as actioned

    @model_validator(mode="after")
    def _consistent(self) -> SanctionCreate:
        if self.tenant_wide and self.kind is not SanctionKind.BAN:
            raise ValueError("only a ban (kind: ban) is tenant-wide")
        if (self.kind is SanctionKind.MUTE) != (self.duration_hours is not None):
            raise ValueError("an explicit mute has duration_hours; nothing else has one")
        return self


class SanctionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    membership_id: str
    member_id: str
    kind: str
    status: str
    step: int | None
    ends_at: datetime | None
    tenant_wide: bool
    report_id: str | None
    reason: str
    issued_by: str
    created_at: datetime
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None


class LiftIn(Strict):
    reason: Reason


class ReportCreate(Strict):
    target_kind: ReportTarget
    target_id: ExternalId  # a member's id, or a content id
    category: ReportCategory
    text: Text | None = None


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    reporter_id: str
    target_kind: str
    target_id: str
    category: str
    text: str | None
    status: str
    sanction_id: str | None
    resolved_by: str | None
    resolution: str | None
    created_at: datetime
    resolved_at: datetime | None


class ResolveIn(Strict):
    outcome: Literal["dismissed", "actioned"]
    note: Reason | None = None
    sanction_id: Id | None = None  # the sanction that answered it (actioned)

    @model_validator(mode="after")
    def _consistent(self) -> ResolveIn:
        if (self.outcome == "actioned") != (self.sanction_id is not None):
            raise ValueError("an actioned report names its sanction_id; a dismissed one none")
        return self


class AppealCreate(Strict):
    text: Text


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    community_id: str
    sanction_id: str
    member_id: str
    text: str
    status: str
    decided_by: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


class DecideIn(Strict):
    decision: Literal["uphold", "overturn"]
    reason: Reason  # the member is told why


# ---------------------------------------------------------------- ladder


@router.get("/communities/{community_id}/moderation-ladder", response_model=LadderOut)
async def get_ladder(
    community_id: str, principal: CurrentPrincipal, moderation: ModerationDep
) -> LadderOut:
    view = await moderation.ladder(principal, community_id)
    return LadderOut.of(view.ladder, default=view.default)


@router.put("/communities/{community_id}/moderation-ladder", response_model=LadderOut)
async def set_ladder(
    community_id: str, body: LadderIn, principal: CurrentPrincipal, moderation: ModerationDep
) -> LadderOut:
    """The escalation ladder: each new strike gets the next step; strikes older than
    ``strike_decay_days`` no longer count."""
    ladder = await moderation.set_ladder(principal, community_id, body.domain())
    return LadderOut.of(ladder, default=False)


# ---------------------------------------------------------------- sanctions


@router.post("/communities/{community_id}/sanctions", status_code=201, response_model=SanctionOut)
async def issue_sanction(
    community_id: str, body: SanctionCreate, principal: CurrentPrincipal, moderation: ModerationDep
) -> SanctionOut:
    """Warn, mute, remove or ban a member; without ``kind`` the ladder's next step applies."""
    draft = NewSanction(
        member_id=body.member_id,
        reason=body.reason,
        kind=body.kind,
        duration=timedelta(hours=body.duration_hours) if body.duration_hours else None,
        tenant_wide=body.tenant_wide,
        report_id=body.report_id,
    )
    return SanctionOut.model_validate(await moderation.issue(principal, community_id, draft))


@router.get("/communities/{community_id}/sanctions", response_model=Page[SanctionOut])
async def list_sanctions(
    community_id: str,
    principal: CurrentPrincipal,
    moderation: ModerationDep,
    member_id: Annotated[str | None, Query(max_length=200)] = None,
    kind: SanctionKind | None = None,
    status: SanctionStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SanctionOut]:
    where = SanctionQuery(community_id, member_id, kind, status)
    rows = await moderation.sanctions(principal, where, keyset_after(cursor), limit + 1)
    return page_of(rows, limit, SanctionOut)


@router.get("/sanctions/{sanction_id}", response_model=SanctionOut)
async def get_sanction(
    sanction_id: str, principal: CurrentPrincipal, moderation: ModerationDep
) -> SanctionOut:
    return SanctionOut.model_validate(await moderation.sanction(principal, sanction_id))


@router.post("/sanctions/{sanction_id}/lift", response_model=SanctionOut)
async def lift_sanction(
    sanction_id: str, body: LiftIn, principal: CurrentPrincipal, moderation: ModerationDep
) -> SanctionOut:
    """End a running mute early, or lift a ban (the member may join again); still a strike."""
    return SanctionOut.model_validate(await moderation.lift(principal, sanction_id, body.reason))


@me.get("/sanctions", response_model=Page[SanctionOut])
async def my_sanctions(
    member: Member, moderation: ModerationDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[SanctionOut]:
    rows = await moderation.my_sanctions(
        member.tenant_id, member.subject, keyset_after(cursor), limit + 1
    )
    return page_of(rows, limit, SanctionOut)


# ---------------------------------------------------------------- appeals


@router.post("/sanctions/{sanction_id}/appeals", status_code=201, response_model=AppealOut)
async def appeal_sanction(
    sanction_id: str, body: AppealCreate, member: Member, moderation: ModerationDep
) -> AppealOut:
    """The sanctioned member appeals, once per sanction (409 on a second)."""
    appeal = await moderation.appeal(member.tenant_id, member.subject, sanction_id, body.text)
    return AppealOut.model_validate(appeal)


@router.get(
    "/appeals",
    response_model=Page[AppealOut],
    responses=problem_responses({404: "No such community"}),
)
async def list_appeals(
    principal: CurrentPrincipal,
    moderation: ModerationDep,
    community_id: CommunityFilter = None,
    status: Literal["pending", "upheld", "overturned"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AppealOut]:
    rows = await moderation.appeals(
        principal,
        community_id=community_id,
        status=status,
        after=keyset_after(cursor),
        limit=limit + 1,
    )
    return page_of(rows, limit, AppealOut)


@router.post("/appeals/{appeal_id}/decide", response_model=AppealOut)
async def decide_appeal(
    appeal_id: str, body: DecideIn, principal: CurrentPrincipal, moderation: ModerationDep
) -> AppealOut:
    """Uphold, or overturn: what the sanction did is undone and it is no longer a strike."""
    appeal = await moderation.decide(
        principal, appeal_id, overturn=body.decision == "overturn", reason=body.reason
    )
    return AppealOut.model_validate(appeal)


# ---------------------------------------------------------------- reports


@router.post(
    "/communities/{community_id}/reports",
    status_code=201,
    response_model=ReportOut,
    responses={200: {"description": "The reporter's open report on this target, returned"}},
)
async def file_report(
    community_id: str,
    body: ReportCreate,
    member: Member,
    moderation: ModerationDep,
    response: Response,
) -> ReportOut:
    """Report a member or a piece of content to the community's moderators."""
    draft = NewReport(body.target_kind, body.target_id, body.category, body.text)
    filed = await moderation.file_report(member.tenant_id, member.subject, community_id, draft)
    response.status_code = 201 if filed.created else 200
    return ReportOut.model_validate(filed.report)


@router.get(
    "/reports",
    response_model=Page[ReportOut],
    responses=problem_responses({404: "No such community"}),
)
async def report_queue(
    principal: CurrentPrincipal,
    moderation: ModerationDep,
    community_id: CommunityFilter = None,
    status: ReportStatus | None = None,
    category: ReportCategory | None = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ReportOut]:
    """The moderation queue, oldest first. Without ``community_id``: tenant operators only."""
    where = ReportQuery(community_id, status, category, target_id)
    rows = await moderation.reports(principal, where, keyset_after(cursor), limit + 1)
    return page_of(rows, limit, ReportOut)


@router.get("/reports/{report_id}", response_model=ReportOut)
async def get_report(
    report_id: str, principal: CurrentPrincipal, moderation: ModerationDep
) -> ReportOut:
    return ReportOut.model_validate(await moderation.report(principal, report_id))


@router.post("/reports/{report_id}/resolve", response_model=ReportOut)
async def resolve_report(
    report_id: str, body: ResolveIn, principal: CurrentPrincipal, moderation: ModerationDep
) -> ReportOut:
    """Dismiss, or mark actioned with the sanction that answered it."""
    report = await moderation.resolve(
        principal, report_id, ReportStatus(body.outcome), body.note, body.sanction_id
    )
    return ReportOut.model_validate(report)
