"""Leaderboards: a community's or the whole tenant's, over 7 or 30 days, all time, or a
custom period; the top N and, for a member, their own rank."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rewards.access import READERS, Sessions, is_operator
from rewards.fields import ExternalId
from rewards.leaderboards import service
from rewards.leaderboards.domain import TENANT_WIDE, PeriodError, Standing, Window, period
from rewards.leaderboards.service import Board
from rewards.zones.service import zones_of
from servicekit.auth import CurrentPrincipal
from servicekit.db import read_only, transaction
from servicekit.problems import Problem
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/rewards", tags=["rewards: leaderboards"])

MAX_TOP = 100


class StandingOut(BaseModel):
    rank: int | None = Field(description="1 is first; null without points in the period")
    member_id: str
    points: int
    reached_at: datetime | None = Field(description="When the member reached these points")

    @classmethod
    def of(cls, standing: Standing) -> StandingOut:
        return cls(
            rank=standing.rank,
            member_id=standing.member_id,
            points=standing.points,
            reached_at=standing.reached_at,
        )


class BoardOut(BaseModel):
    window: Window
    community_id: str | None = Field(description="Null: the tenant-wide board")
    first_day: date | None = Field(
        description="A local day of the board (the community's time zone, or the tenant's "
        "for the tenant-wide board); null for all time"
    )
    last_day: date | None
    top: list[StandingOut] = Field(description="Points desc, then earliest reached, then id")
    me: StandingOut | None = Field(description="The calling member; null for operators")

    @classmethod
    def of(
        cls, board: Board, window: Window, community_id: str | None, member_id: str | None
    ) -> BoardOut:
        me = None
        if member_id is not None:
            me = (
                StandingOut.of(board.me)
                if board.me
                else StandingOut(rank=None, member_id=member_id, points=0, reached_at=None)
            )
        return cls(
            window=window,
            community_id=community_id,
            first_day=board.period.first,
            last_day=board.period.last,
            top=[StandingOut.of(standing) for standing in board.top],
            me=me,
        )


@router.get(
    "/leaderboard",
    summary="Top N by points earned in a period, and my rank",
    responses={422: {"description": "Invalid period"}},
)
async def leaderboard(
    principal: CurrentPrincipal,
    sessions: Sessions,
    background: BackgroundTasks,
    window: Window = Window.DAYS_7,
    community_id: Annotated[
        ExternalId | None, Query(description="Omit for the tenant-wide board")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TOP)] = 10,
    first: Annotated[
        date | None, Query(alias="from", description="custom: first day (the board's local days)")
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="custom: last day, inclusive")
    ] = None,
) -> BoardOut:
    member_id = _member_or_reader(principal)
    scope = community_id or TENANT_WIDE
    async with read_only(sessions) as session:
        # The board's today: its community's local day, or the tenant's.
        today = (await zones_of(session, principal.tenant_id)).today(community_id, utcnow())
        try:
            days = period(window, today, first, last)
        except PeriodError as error:
            raise Problem(422, "invalid-period", "Invalid period", str(error)) from error
        board = await service.leaderboard(
            session,
            principal.tenant_id,
            scope=scope,
            period=days,
            limit=limit,
            member_id=member_id,
            today=today,
        )
    if board.stale_windows:
        # The first reader of the board's day is answered from the day rows; its rolling
        # windows are rebuilt after the response, for everyone after.
        background.add_task(rebuild_windows, sessions, principal.tenant_id, scope, today)
    return BoardOut.of(board, window, community_id, member_id)


def _member_or_reader(principal: CurrentPrincipal) -> str | None:
    """The member's id for a member token (they get ``me``); None for an operator."""
    if principal.token_type == "member":
        return principal.subject
    if is_operator(principal, *READERS):
        return None
    raise Problem(403, "forbidden", "Forbidden", "members and operators only")


async def rebuild_windows(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, scope: str, today: date
) -> list[int]:
    """Its own transaction, after the response."""
    async with transaction(sessions) as session:
        return await service.rebuild_windows(session, tenant_id, scope, today)
