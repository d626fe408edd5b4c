"""Trial → core: a member sitting in a trial-kind group moves to a group of the upgrade's
kind when they pay or reach a level (domain.AutoUpgrade says when). Never fails the
payment or the level report that triggers it."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding import events
from onboarding.joins.domain import AutoUpgrade, placement_order
from onboarding.joins.repository import JoinRepository
from onboarding.joins.seating import candidate_of, claim_seat, release_seat
from onboarding.membership import domain as aggregate
from onboarding.membership.domain import TIER_TRIAL
from onboarding.membership.repository import Repository
from onboarding.membership.states import Status
from onboarding.orm import Group, Membership
from servicekit.outbox import add_event
from servicekit.types import utcnow


async def upgrade_after_payment(
    session: AsyncSession,
    membership: Membership,
    before: aggregate.Membership,
    from_group: str | None,
) -> None:
    """A payment activated the member: trial → core is a tier change, and a community that
    upgrades on payment moves them out of a trial group. Never fails the payment."""
    community = await Repository(session).community(membership.tenant_id, membership.community_id)
    assert community is not None
    upgrade = AutoUpgrade.of(community.auto_upgrade)
    moved_from = None
    if upgrade is not None and upgrade.on_payment():
        moved_from = await _upgrade_group(session, membership, upgrade)
    was_trial = before.status == Status.TRIAL and before.tier == TIER_TRIAL
    if was_trial or moved_from:
        event = events.membership_tier_changed(
            membership,
            from_tier=before.tier if was_trial else membership.tier,
            from_group_id=moved_from or from_group,
            reason="payment",
            at=utcnow(),
        )
        await add_event(session, event)


async def upgrade_on_levels(session: AsyncSession, levels: Mapping[tuple[str, str], int]) -> None:
    """rewards reported levels (``levels``: each member's level now, by (tenant, member), as
    the projection just recorded it): members leave the trial groups of communities that
    upgrade at their level (when a group of the target kind has room and admits them).
    One query for the whole run, and it finds nothing unless a community upgrades."""
    for membership, community in await JoinRepository(session).trial_group_seats(list(levels)):
        upgrade = AutoUpgrade.of(community.auto_upgrade)
        level = levels[(membership.tenant_id, membership.member_id)]
        if upgrade is None or not upgrade.on_level(level):
            continue
        moved_from = await _upgrade_group(session, membership, upgrade)
        if moved_from is not None:
            event = events.membership_tier_changed(
                membership,
                from_tier=membership.tier,
                from_group_id=moved_from,
                reason="level",
                at=utcnow(),
            )
            await add_event(session, event)


async def _upgrade_group(
    session: AsyncSession, membership: Membership, upgrade: AutoUpgrade
) -> str | None:
    """Move a member sitting in a trial-kind group to a group of the upgrade's kind that has
    room and admits them: the group they left, or None (they stay where they are)."""
    current = membership.group_id
    group = await session.get(Group, current) if current else None
    if group is None or group.kind != "trial":
        return None
    context = await Repository(session).entry_context(
        membership.tenant_id, membership.community_id, membership.member_id, None
    )
    candidate = candidate_of(membership, context)
    repo = JoinRepository(session)
    loads = await repo.kind_loads(
        membership.tenant_id, membership.community_id, upgrade.to_group_kind
    )
    for load in placement_order(loads, candidate):
        if load.group_id != group.id and await claim_seat(session, membership, load.group_id):
            await release_seat(session, group.id, membership.tenant_id)
            membership.group_id = load.group_id
            return group.id
    return None
