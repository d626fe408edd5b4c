"""Event consumers of the level gate: rewards' level.changed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.joins.upgrades import upgrade_on_level
from onboarding.levels.service import record_level
from servicekit.events import Event


async def on_level_changed(session: AsyncSession, event: Event) -> None:
    """rewards.level.changed → the local projection that level-gated joins read.

    A malformed event raises: the runner retries it, then dead-letters it for a look.
    """
    changed_at = datetime.fromisoformat(str(event.data["changed_at"]))
    if changed_at.tzinfo is None:  # the contract says date-time; read a bare one as UTC
        changed_at = changed_at.replace(tzinfo=UTC)
    member_id = str(event.data["member_id"])
    level = await record_level(
        session, event.tenant_id, member_id, int(event.data["level"]), changed_at
    )
    # A level may move the member out of a trial group (a community's auto upgrade).
    await upgrade_on_level(session, event.tenant_id, member_id, level)
