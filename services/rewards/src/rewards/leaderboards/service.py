"""Leaderboards' use cases: a board's top N and a member's own standing, and rebuilding
the rolling windows for a new day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.leaderboards.domain import Period, Standing, kept_span, ranked
from rewards.leaderboards.repository import BoardRepository, BoardSource


@dataclass(frozen=True)
class Board:
    period: Period
    top: list[Standing]
    me: Standing | None  # None: not asked for, or no points in the period
    stale_windows: bool = False  # the rolling windows want rebuilding for today


async def leaderboard(
    session: AsyncSession,
    tenant_id: str,
    *,
    scope: str,
    period: Period,
    limit: int,
    member_id: str | None,
    today: date,
) -> Board:
    """The top ``limit`` and, for a member, their own standing: found in the top, or
    their score and a count of the members strictly ahead of it.

    All time and the rolling windows read kept rows in index order; a custom
    period, or a window whose rows were not rebuilt for today yet, sums the day
    rows (slower, as exact) and says so in ``stale_windows``."""
    repo = BoardRepository(session)
    source, stale = await _board_source(repo, tenant_id, scope, period, today)
    top = ranked(await repo.board_top(tenant_id, scope, source, limit))
    me = next((s for s in top if s.member_id == member_id), None)
    if me is None and member_id is not None:
        score = await repo.board_score(tenant_id, scope, source, member_id)
        if score is not None:
            ahead = await repo.board_ahead(tenant_id, scope, source, *score, member_id)
            me = Standing(member_id, score[0], score[1], ahead + 1)
    return Board(period, top, me, stale)


async def rebuild_windows(
    session: AsyncSession, tenant_id: str, scope: str, today: date
) -> list[int]:
    """Rebuild a board's rolling windows for its ``today`` (a no-op once done): one pass
    over the scope's day rows per span, writers of its scores waiting meanwhile. Each
    scope has its own today (its local day), so each is rebuilt on its own."""
    return await BoardRepository(session).rebuild_windows(tenant_id, scope, today)


async def _board_source(
    repo: BoardRepository, tenant_id: str, scope: str, period: Period, today: date
) -> tuple[BoardSource, bool]:
    """(where the board's scores come from, whether rolling windows want a rebuild)."""
    if period.first is None:
        return BoardSource(), False
    span = kept_span(period, today)
    if span is None:
        return BoardSource(days=period), False
    if (await repo.window_states(tenant_id, scope)).get(span) == today:
        return BoardSource(span=span), False
    return BoardSource(days=period), True
