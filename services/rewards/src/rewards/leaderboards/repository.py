"""Queries of the leaderboards: score rows per day, all time and rolling window, and the
windows' state. Scoped by the tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, tuple_, update
from sqlalchemy import types as sa_types
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.leaderboards.domain import SPANS, Period, Score, ScoreKey, window_days
from rewards.orm import score_days, score_totals, score_window_state, score_windows
from servicekit.db import dialect_insert, insert_many
from servicekit.types import UtcDateTime


class Lock(Enum):
    SHARE = "share"
    UPDATE = "update"


@dataclass(frozen=True)
class BoardSource:
    """Where a board's scores come from: the all-time rows (neither set), a kept rolling
    window (``span``), or the day rows summed over ``days``."""

    span: int | None = None
    days: Period | None = None


class BoardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_scores(self, rows: Sequence[tuple[str, str, ScoreKey, Score]]) -> None:
        """Add (tenant, member, scope and day, score) to the day rows, the all-time rows
        and the rolling windows the day falls in: a statement per table."""
        if not rows:
            return
        days: dict[tuple[str, str, date, str], tuple[int, datetime]] = {}
        totals: dict[tuple[str, str, str], tuple[int, datetime]] = {}
        for tenant_id, member_id, key, score in rows:
            _merge(days, (tenant_id, key.scope, key.day, member_id), score)
            _merge(totals, (tenant_id, key.scope, member_id), score)
        windows: dict[tuple[str, int, str, str], tuple[int, datetime]] = {}
        for tenant_id in sorted({row[0] for row in rows}):
            scopes = sorted({key[1] for key in days if key[0] == tenant_id})
            built = await self._states_of(tenant_id, scopes, lock=Lock.SHARE)
            for (tenant, scope, day, member_id), (points, reached) in days.items():
                if tenant != tenant_id:
                    continue
                for span, as_of in built[scope].items():
                    if as_of is not None and _within(day, as_of, span):
                        _merge(windows, (tenant, span, scope, member_id), Score(points, reached))
        await self._add_up(score_days, _score_rows(score_days, days))
        await self._add_up(score_totals, _score_rows(score_totals, totals))
        await self._add_up(score_windows, _score_rows(score_windows, windows))

    async def _add_up(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """INSERT … ON CONFLICT DO UPDATE adding points; reached_at only moves later.
        One statement (``insert_many``), in key order so that two writers lock the rows
        they share in the same order."""

        await insert_many(self.session, table, rows, conflict=_add_up_points)

    async def window_states(
        self, tenant_id: str, scope: str, *, lock: Lock | None = None
    ) -> dict[int, date | None]:
        """span → the day the scope's rows are for (None: never built), in the scope's
        local days."""
        return (await self._states_of(tenant_id, [scope], lock=lock))[scope]

    async def _states_of(
        self, tenant_id: str, scopes: Sequence[str], *, lock: Lock | None = None
    ) -> dict[str, dict[int, date | None]]:
        """scope → span → as_of. Writers of scores hold the states FOR SHARE, a rebuild
        FOR UPDATE (see orm.score_window_state); the rows are created if missing, so that
        there is always something to lock, and locked in key order."""
        if lock is not None:
            await self.session.execute(
                dialect_insert(self.session, score_window_state).on_conflict_do_nothing(),
                [
                    {"tenant_id": tenant_id, "scope": scope, "span": span, "as_of": None}
                    for scope in scopes
                    for span in SPANS
                ],
            )
        state = score_window_state.c
        query = (
            select(state.scope, state.span, state.as_of)
            .where(state.tenant_id == tenant_id, state.scope.in_(scopes))
            .order_by(state.scope, state.span)
        )
        if lock is not None:
            query = query.with_for_update(read=lock is Lock.SHARE)
        found: dict[str, dict[int, date | None]] = {s: dict.fromkeys(SPANS) for s in scopes}
        for scope, span, as_of in await self.session.execute(query):
            found[str(scope)][int(span)] = as_of
        return found

    async def rebuild_windows(self, tenant_id: str, scope: str, as_of: date) -> list[int]:
        """Sum the scope's day rows into its windows ending ``as_of`` (its local today),
        for the spans not built for that day yet; returns the spans rebuilt."""
        built = await self.window_states(tenant_id, scope, lock=Lock.UPDATE)
        stale = [span for span, day in built.items() if day != as_of]
        for span in stale:
            days = window_days(as_of, span)
            await self.session.execute(
                score_windows.delete().where(
                    score_windows.c.tenant_id == tenant_id,
                    score_windows.c.span == span,
                    score_windows.c.scope == scope,
                )
            )
            summed = (
                select(
                    score_days.c.tenant_id,
                    literal(span, sa_types.Integer),
                    score_days.c.scope,
                    score_days.c.member_id,
                    func.sum(score_days.c.points),
                    func.max(score_days.c.reached_at),
                )
                .where(
                    score_days.c.tenant_id == tenant_id,
                    score_days.c.scope == scope,
                    score_days.c.day.between(days.first, days.last),
                )
                # Every member with a day in the window, even at 0 points: later writes add
                # to these rows and reached_at must stay the max over all those days.
                .group_by(score_days.c.tenant_id, score_days.c.scope, score_days.c.member_id)
            )
            columns = ["tenant_id", "span", "scope", "member_id", "points", "reached_at"]
            await self.session.execute(score_windows.insert().from_select(columns, summed))
            await self.session.execute(
                update(score_window_state)
                .where(
                    score_window_state.c.tenant_id == tenant_id,
                    score_window_state.c.scope == scope,
                    score_window_state.c.span == span,
                )
                .values(as_of=as_of)
            )
        return stale

    async def board_top(
        self, tenant_id: str, scope: str, source: BoardSource, limit: int
    ) -> list[tuple[str, int, datetime]]:
        """(member, points, reached_at) of the first ``limit`` members, in board order."""
        scores = self._scores(tenant_id, scope, source).subquery()
        query = (
            select(scores.c.member_id, scores.c.points, scores.c.reached_at)
            .where(scores.c.points > 0)
            .order_by(scores.c.points.desc(), scores.c.reached_at, scores.c.member_id)
            .limit(limit)
        )
        rows = await self.session.execute(query)
        return [(str(m), int(p), r) for m, p, r in rows]

    async def board_score(
        self, tenant_id: str, scope: str, source: BoardSource, member_id: str
    ) -> tuple[int, datetime] | None:
        """A member's points and reached_at on the board; None without points."""
        scores = self._scores(tenant_id, scope, source, member_id=member_id).subquery()
        row = (await self.session.execute(select(scores.c.points, scores.c.reached_at))).first()
        if row is None or row.points is None or row.points <= 0:
            return None
        return int(row.points), row.reached_at

    async def board_ahead(
        self,
        tenant_id: str,
        scope: str,
        source: BoardSource,
        points: int,
        reached_at: datetime,
        member_id: str,
    ) -> int:
        """How many members are strictly ahead of that score in board order. On kept rows,
        two range counts on the board index; on summed days, one pass over the sums."""
        scores = self._scores(tenant_id, scope, source).subquery()
        when = bindparam("reached_at", reached_at, type_=UtcDateTime)
        later_tie = tuple_(scores.c.reached_at, scores.c.member_id) < tuple_(when, member_id)
        ahead = [scores.c.points > points, and_(scores.c.points == points, later_tie)]
        if source.days is not None:
            query = select(func.count()).select_from(scores).where(or_(*ahead))
        else:
            query = select(
                *(
                    select(func.count()).select_from(scores).where(c).scalar_subquery()
                    for c in ahead
                )
            )
        row = (await self.session.execute(query)).one()
        return sum(int(count or 0) for count in row)

    def _scores(
        self, tenant_id: str, scope: str, source: BoardSource, *, member_id: str | None = None
    ) -> Any:
        """(member_id, points, reached_at) per member on the board: kept rows (all time, a
        rolling window) as they are, or the day rows summed over a custom period."""
        if source.days is None:
            table = score_totals if source.span is None else score_windows
            query = select(table.c.member_id, table.c.points, table.c.reached_at).where(
                table.c.tenant_id == tenant_id, table.c.scope == scope
            )
            if source.span is not None:
                query = query.where(table.c.span == source.span)
            if member_id is not None:
                query = query.where(table.c.member_id == member_id)
            return query
        first, last = source.days.first, source.days.last
        query = (
            select(
                score_days.c.member_id,
                func.sum(score_days.c.points).label("points"),
                func.max(score_days.c.reached_at).label("reached_at"),
            )
            .where(
                score_days.c.tenant_id == tenant_id,
                score_days.c.scope == scope,
                score_days.c.day.between(first, last),
            )
            .group_by(score_days.c.member_id)
        )
        if member_id is not None:
            query = query.where(score_days.c.member_id == member_id)
        return query


def _within(day: date, as_of: date, span: int) -> bool:
    return 0 <= (as_of - day).days < span


def _score_rows(table: Any, scores: dict[Any, tuple[int, datetime]]) -> list[dict[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    return [
        dict(zip(keys, key, strict=True)) | {"points": points, "reached_at": reached}
        for key, (points, reached) in sorted(scores.items())
    ]


def _merge(into: dict[Any, tuple[int, datetime]], key: Any, score: Score) -> None:
    points, reached_at = into.get(key, (0, score.reached_at))
    into[key] = (points + score.points, max(reached_at, score.reached_at))


def _add_up_points(statement: Any) -> Any:
    """The conflict clause of ``_add_up`` (one function: its statement is built once)."""
    table = statement.table
    later = statement.excluded.reached_at > table.c.reached_at
    return statement.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={
            "points": table.c.points + statement.excluded.points,
            "reached_at": case((later, statement.excluded.reached_at), else_=table.c.reached_at),
        },
    )
