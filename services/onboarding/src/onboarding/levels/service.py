"""The level gate and the projection of rewards' levels it reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.levels import domain as levels
from onboarding.levels.repository import LevelRepository
from onboarding.orm import Community, MemberLevel
from servicekit.problems import Problem


def check_level(community: Community, level: int) -> None:
    """A level-gated community admits members whom rewards reported at its level or above."""
    if community.min_level is None:
        return
    if not levels.admits(community.min_level, level):
        raise Problem(
            403,
            "level-required",
            "Level required",
            f"joining needs level {community.min_level}; you are at level {level}",
            required_level=community.min_level,
            level=level,
        )


async def record_level(
    session: AsyncSession, tenant_id: str, member_id: str, level: int, changed_at: datetime
) -> int:
    """The projection of rewards' levels: keep the latest reported level of each member.
    Returns the member's level now (a late report does not lower it)."""
    repo = LevelRepository(session)
    row = MemberLevel(tenant_id=tenant_id, member_id=member_id, level=level, changed_at=changed_at)
    if await repo.insert_level_if_absent(row):
        return level
    known = await repo.member_level(tenant_id, member_id)
    assert known is not None
    if levels.supersedes(changed_at, known.changed_at):
        known.level, known.changed_at = level, changed_at
    return known.level
