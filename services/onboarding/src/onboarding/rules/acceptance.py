"""Accepting a community's rules: recorded once per version, on the way in (the entry
gate) or on its own (rules/service.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding import events
from onboarding.orm import Community
from onboarding.rules.repository import RulesRepository
from servicekit.outbox import add_event
from servicekit.problems import Problem
from servicekit.types import utcnow


def rules_not_accepted(current: int) -> Problem:
    return Problem(
        409,
        "rules-not-accepted",
        "Rules not accepted",
        f"accept the community's rules version {current} (accepted_rules_version)",
        current_version=current,
    )


async def accept_rules(
    session: AsyncSession, community: Community, member_id: str, version: int
) -> bool:
    """Record the acceptance, once per version: True when it was new (``rules.accepted``
    is published then)."""
    now = utcnow()
    repo = RulesRepository(session)
    if not await repo.insert_acceptance_if_absent(
        community.tenant_id, community.id, member_id, version, now
    ):
        return False
    event = events.rules_accepted(community.tenant_id, community.id, member_id, version, now)
    await add_event(session, event)
    return True
