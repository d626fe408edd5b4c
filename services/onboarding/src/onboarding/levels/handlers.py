"""Event consumers of the level gate: rewards' level.changed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.joins.upgrades import upgrade_on_levels
from onboarding.levels.service import record_levels
from servicekit.events import Event


async def on_levels_changed(session: AsyncSession, events: Sequence[Event]) -> None:
    """A run of rewards.level.changed → the local projection that level-gated joins read;
    a level may move the member out of a trial group (a community's auto upgrade)."""
    await upgrade_on_levels(session, await record_levels(session, events))
