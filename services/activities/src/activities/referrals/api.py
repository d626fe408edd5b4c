"""Referral campaigns (裂变 / 任务宝): set up, progress, leaderboard, the operator's view."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from activities.access import READERS, Anyone, Member, Now, Runner, Sessions, operator_with
from activities.referrals import domain, service
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line

router = APIRouter(prefix="/v1/activities", tags=["activities: referrals"])

CampaignId = Annotated[Line, Path(max_length=36)]
MemberId = Annotated[Line, Path(min_length=1, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=200)]
NOT_FOUND = problem_responses({404: "No such referral campaign for this caller"})
Reader = Annotated[Principal, operator_with(*READERS)]


class TierIn(Body):
    invites: Annotated[int, Field(ge=1, le=100_000)]
    points: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    badge: Annotated[Line, Field(min_length=1, max_length=100)] | None = None


class CampaignIn(Body):
    community_id: Annotated[Line, Field(min_length=1, max_length=200)]
    title: Annotated[Line, Field(min_length=1, max_length=200)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    tiers: Annotated[list[TierIn], Field(min_length=1, max_length=domain.MAX_TIERS)]
    counting: domain.Counting = Field(
        default=domain.Counting.PAST_REFUND_WINDOW,
        description="past_refund_window: a join counts once its refund window is over; "
        "paid: a paid join counts at once (a refund inside the window revokes tiers)",
    )
    channel: Annotated[Line, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Only joins through invites of this channel (the poster's)"
    )
    daily_cap: Annotated[int, Field(ge=1, le=10_000)] = 20


class TierOut(BaseModel):
    invites: int
    points: int
    badge: str | None


class CampaignOut(BaseModel):
    id: str
    community_id: str
    title: str
    starts_at: datetime
    ends_at: datetime
    tiers: list[TierOut]
    counting: domain.Counting
    channel: str | None
    daily_cap: int
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> CampaignOut:
        return cls.model_validate(dict(row._mapping))


class ProgressOut(BaseModel):
    member_id: str
    counted: int = Field(description="Invited joins that count now")
    pending: int = Field(description="Joins that count once their refund window is over")
    tiers_granted: list[int]
    next_tier: int | None
    invites_to_next: int | None
    under_review: bool = Field(description="Flagged: tier rewards wait for an operator")

    @classmethod
    def of(cls, campaign: Any, member_id: str, row: Any) -> ProgressOut:
        counted = row.counted if row else 0
        granted = sorted(row.granted) if row else []
        upcoming = [i for i, t in enumerate(campaign.tiers) if t["invites"] > counted]
        next_tier = upcoming[0] if upcoming else None
        return cls(
            member_id=member_id,
            counted=counted,
            pending=row.pending if row else 0,
            tiers_granted=granted,
            next_tier=next_tier,
            invites_to_next=(
                None if next_tier is None else campaign.tiers[next_tier]["invites"] - counted
            ),
            under_review=bool(row and row.flags and row.cleared_at is None),
        )


class RankOut(BaseModel):
    rank: int
    member_id: str
    counted: int


class ParticipantOut(BaseModel):
    member_id: str
    counted: int
    pending: int
    granted: list[int]
    flags: list[str] = Field(description="self_invite, cycle, over_daily_cap, refunds")
    cleared_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> ParticipantOut:
        return cls.model_validate(dict(row._mapping))


@router.post(
    "/referrals",
    status_code=201,
    summary="Set up a referral campaign (裂变 / 任务宝) in a community",
    responses=problem_responses({404: "A community not of this tenant", 422: "Invalid settings"}),
)
async def create_campaign(
    body: CampaignIn, sessions: Sessions, principal: Runner, now: Now
) -> CampaignOut:
    try:
        campaign = domain.Campaign(
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            tiers=tuple(domain.Tier(t.invites, t.points, t.badge) for t in body.tiers),
            counting=body.counting,
            channel=body.channel,
            daily_cap=body.daily_cap,
        )
    except domain.InvalidCampaign as error:
        raise Problem(422, "invalid-campaign", "Invalid campaign", str(error)) from None
    async with transaction(sessions) as session:
        row = await service.create(
            session, principal, service.Draft(body.community_id, body.title, campaign), now
        )
    return CampaignOut.of(row)


@router.get("/referrals", summary="Referral campaigns: all for operators, a member's own")
async def list_campaigns(sessions: Sessions, principal: Anyone) -> list[CampaignOut]:
    async with read_only(sessions) as session:
        rows = await service.listed(session, principal)
    return [CampaignOut.of(row) for row in rows]


@router.get("/referrals/{campaign_id}", summary="One referral campaign", responses=NOT_FOUND)
async def get_campaign(
    campaign_id: CampaignId, sessions: Sessions, principal: Anyone
) -> CampaignOut:
    async with read_only(sessions) as session:
        row = await service.readable(session, principal, campaign_id)
    return CampaignOut.of(row)


@router.get(
    "/referrals/{campaign_id}/progress",
    summary="The member's own progress: counted, pending, tiers, the next goal",
    responses=NOT_FOUND,
)
async def my_progress(
    campaign_id: CampaignId, sessions: Sessions, principal: Member
) -> ProgressOut:
    async with read_only(sessions) as session:
        row, found = await service.progress(session, principal, campaign_id, principal.subject)
    return ProgressOut.of(row, principal.subject, found)


@router.get(
    "/referrals/{campaign_id}/leaderboard",
    summary="Most counted joins first; a tie to who reached it first",
    responses=NOT_FOUND,
)
async def leaderboard(
    campaign_id: CampaignId, sessions: Sessions, principal: Anyone, limit: Limit = 50
) -> list[RankOut]:
    async with read_only(sessions) as session:
        _, ranked = await service.leaderboard(session, principal, campaign_id, limit)
    return [
        RankOut(rank=i, member_id=member, counted=counted)
        for i, (member, counted) in enumerate(ranked, start=1)
    ]


@router.get(
    "/referrals/{campaign_id}/participants",
    summary="Every participant with their flags (operators)",
    responses=NOT_FOUND,
)
async def participants(
    campaign_id: CampaignId, sessions: Sessions, principal: Reader, limit: Limit = 200
) -> list[ParticipantOut]:
    async with read_only(sessions) as session:
        rows = await service.participants(session, principal, campaign_id, limit)
    return [ParticipantOut.of(row) for row in rows]


@router.post(
    "/referrals/{campaign_id}/participants/{member_id}/clear",
    summary="Clear a flagged participant: their withheld tiers are paid",
    responses=problem_responses({404: "No such campaign", 409: "Not flagged"}),
)
async def clear(
    campaign_id: CampaignId, member_id: MemberId, sessions: Sessions, principal: Runner, now: Now
) -> ParticipantOut:
    async with transaction(sessions) as session:
        row = await service.clear(session, principal, campaign_id, member_id, now)
    return ParticipantOut.of(row)
