"""Campaign reviews' use case: one activity's funnel, points and channels, beside the same
figures of the previous activity of its kind in its scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities.reviews import domain
from activities.reviews.repository import ReviewRepository
from servicekit.auth import Principal
from servicekit.problems import not_found


@dataclass(frozen=True)
class Figures:
    row: Any
    start: datetime
    stages: tuple[domain.StageCount, ...]
    communities: dict[str, tuple[domain.StageCount, ...]]
    points: domain.Points
    channels: tuple[domain.ChannelRow, ...] | None  # None: no channel known for the kind


@dataclass(frozen=True)
class Review:
    kind: domain.Kind
    current: Figures
    previous: Figures | None

    @property
    def changes(self) -> tuple[domain.Change, ...] | None:
        if self.previous is None:
            return None
        return domain.compare(self.current.stages, self.previous.stages)

    @property
    def points_change(self) -> domain.Points | None:
        if self.previous is None:
            return None
        return domain.points_change(self.current.points, self.previous.points)


async def figures(repo: ReviewRepository, kind: domain.Kind, row: Any) -> Figures:
    start = await repo.start(kind, row)
    facts = await repo.audience(kind, row, start) + await repo.facts(kind, row)
    return Figures(
        row=row,
        start=start,
        stages=domain.funnel(kind, facts),
        communities=domain.by_community(kind, facts),
        points=await repo.points(kind, row),
        channels=await repo.channels(row) if kind is domain.Kind.REFERRAL else None,
    )


async def review(
    session: AsyncSession, principal: Principal, kind: domain.Kind, activity_id: str
) -> Review:
    """The review of the tenant's activity (404: none of that kind and id in the tenant)."""
    repo = ReviewRepository(session)
    row = await repo.activity(kind, principal.tenant_id, activity_id)
    if row is None:
        raise not_found(kind.value)
    before = await repo.previous(kind, row)
    return Review(
        kind,
        await figures(repo, kind, row),
        await figures(repo, kind, before) if before is not None else None,
    )
