"""Levels' use cases: operators set the thresholds and names; reads of the scheme and of
a member's own level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.levels.domain import LevelProgress, LevelScheme
from rewards.levels.repository import LevelRepository
from rewards.points.repository import PointsRepository
from rewards.rules.service import set_up_tenant
from servicekit.types import utcnow


async def save_levels(session: AsyncSession, tenant_id: str, scheme: LevelScheme) -> datetime:
    """New thresholds and names. Not retroactive: stored levels move (and
    ``level.changed`` goes out) at each member's next ledger change; reads show the
    level under the new thresholds at once."""
    await set_up_tenant(session, tenant_id)
    now = utcnow()
    await LevelRepository(session).save_level_scheme(tenant_id, scheme, now)
    return now


@dataclass(frozen=True)
class Levels:
    scheme: LevelScheme
    updated_at: datetime | None  # None: the defaults, never changed


@dataclass(frozen=True)
class MyLevel:
    member_id: str
    lifetime: int
    progress: LevelProgress
    next_name: str | None


async def levels(session: AsyncSession, tenant_id: str) -> Levels:
    repo = LevelRepository(session)
    return Levels(await repo.level_scheme(tenant_id), await repo.level_scheme_updated_at(tenant_id))


async def my_level(session: AsyncSession, tenant_id: str, member_id: str) -> MyLevel:
    wallet = await PointsRepository(session).wallet(tenant_id, member_id)
    scheme = await LevelRepository(session).level_scheme(tenant_id)
    lifetime = wallet.lifetime if wallet else 0
    progress = scheme.progress(lifetime)
    following = progress.level if progress.next_level_at is not None else None
    next_name = scheme.names[following] if following is not None else None
    return MyLevel(member_id, lifetime, progress, next_name)
