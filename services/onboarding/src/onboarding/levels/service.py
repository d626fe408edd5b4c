"""The level gate and the projection of rewards' levels it reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.levels import domain as levels
from onboarding.levels.repository import Key, LevelRepository
from onboarding.orm import Community
from servicekit.events import Event
from servicekit.problems import Problem
from servicekit.projection import fold_run


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


async def record_levels(session: AsyncSession, events: Sequence[Event]) -> dict[Key, int]:
    """The projection of rewards' levels: the latest reported level of each member kept (a
    late report does not lower it), one read and one write for the run. Returns each
    reported member's level now."""
    repo = LevelRepository(session)
    now: dict[Key, int] = {}

    async def save(changed: dict[Key, levels.Level]) -> None:
        now.update({key: level.level for key, level in changed.items()})
        await repo.save_levels(changed)

    await fold_run(
        events, key=_member, fact=_reported, fold=levels.fold_level, load=repo.levels, save=save
    )
    return now


def _member(event: Event) -> Key:
    return (event.tenant_id, str(event.data["member_id"]))


def _reported(event: Event) -> levels.Level:
    """A malformed event raises: the runner retries it, then dead-letters it for a look."""
    changed_at = datetime.fromisoformat(str(event.data["changed_at"]))
    if changed_at.tzinfo is None:  # the contract says date-time; read a bare one as UTC
        changed_at = changed_at.replace(tzinfo=UTC)
    return levels.Level(int(event.data["level"]), changed_at)
