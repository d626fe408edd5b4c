"""Leaderboards: a community's or the whole tenant's, over 7 or 30 days, all time, or a
custom period; the top N and, for a member, their own rank."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query

from rewards.api.deps import READERS, RewardsDep, is_operator
from rewards.api.schemas import BoardOut, ExternalId
from rewards.domain.leaderboard import TENANT_WIDE, PeriodError, Window, period
from servicekit.auth import CurrentPrincipal
from servicekit.problems import Problem
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/rewards", tags=["rewards: leaderboards"])

MAX_TOP = 100


@router.get(
    "/leaderboard",
    summary="Top N by points earned in a period, and my rank",
    responses={422: {"description": "Invalid period"}},
)
async def leaderboard(
    principal: CurrentPrincipal,
    rewards: RewardsDep,
    background: BackgroundTasks,
    window: Window = Window.DAYS_7,
    community_id: Annotated[
        ExternalId | None, Query(description="Omit for the tenant-wide board")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TOP)] = 10,
    first: Annotated[
        date | None, Query(alias="from", description="custom: first day (UTC)")
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="custom: last day, inclusive")
    ] = None,
) -> BoardOut:
    member_id = _member_or_reader(principal)
    today = utcnow().date()
    try:
        days = period(window, today, first, last)
    except PeriodError as error:
        raise Problem(422, "invalid-period", "Invalid period", str(error)) from error
    board = await rewards.leaderboard(
        principal.tenant_id,
        scope=community_id or TENANT_WIDE,
        period=days,
        limit=limit,
        member_id=member_id,
        today=today,
    )
    if board.stale_windows:
        # The first reader of the day is answered from the day rows; the rolling windows
        # are rebuilt after the response, for everyone after.
        background.add_task(rewards.rebuild_windows, principal.tenant_id, today)
    return BoardOut.of(board, window, community_id, member_id)


def _member_or_reader(principal: CurrentPrincipal) -> str | None:
    """The member's id for a member token (they get ``me``); None for an operator."""
    if principal.token_type == "member":
        return principal.subject
    if is_operator(principal, *READERS):
        return None
    raise Problem(403, "forbidden", "Forbidden", "members and operators only")
