"""Points use cases: an operator's adjustment, reversing what a cause credited, and the
reads of a member's points. Each takes a session: one transaction per use case, opened
by the entry point.

Every wallet change goes the same way: lock and load the wallet with the lots it needs
(``Ledger``), let the domain (``Wallet``) decide, then write the entries, the lots, the
wallet (conditional on its version) and the events in that same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.badges import service as badges
from rewards.levels.domain import LevelProgress, LevelScheme
from rewards.levels.repository import LevelRepository
from rewards.points.domain import (
    Credit,
    Entry,
    EntryKind,
    MembershipOutcome,
    Settle,
    Wallet,
    settle_held,
)
from rewards.points.ledger import Ledger
from rewards.points.repository import AdjustmentQuery, CausedLot, PointsRepository
from rewards.rules.domain import cause_key
from servicekit.problems import Problem
from servicekit.types import utcnow


@dataclass(frozen=True)
class Summary:
    member_id: str
    available: int
    pending: int
    lifetime: int
    debt: int
    level: LevelProgress


async def adjust(
    session: AsyncSession,
    *,
    tenant_id: str,
    member_id: str,
    points: int,
    reason: str,
    key: str,
    community_id: str | None,
    actor_id: str,
) -> Summary:
    """An operator's correction: a positive one is a credit (available at once, never
    expiring, counted in lifetime points); a negative one a debit of available points.
    The entry records who made it (``actor_id``): the adjustments trail."""
    ledger = Ledger(session)
    if await ledger.repo.entry_exists(tenant_id, f"adjust:{key}"):
        # The Idempotency-Key row expired (24 h) but the entry is forever: still refuse.
        raise Problem(
            409, "adjustment-exists", "Adjustment exists", "this Idempotency-Key was already used"
        )
    opened = await ledger.open(tenant_id, member_id, create=points > 0)
    wallet = opened.wallet if opened else Wallet()
    now = utcnow()
    if points > 0:
        credit = Credit(
            key=f"adjust:{key}",
            lot_id=str(uuid.uuid4()),
            points=points,
            at=now,
            available_at=now,
            kind=EntryKind.ADJUST,
            community_id=community_id,
            reason=reason,
        )
        new = wallet.credit(credit)
    else:  # refused by the domain (InsufficientPoints) when there is not enough
        new = wallet.debit(
            f"adjust:{key}",
            -points,
            now,
            kind=EntryKind.ADJUST,
            reason=reason,
            community_id=community_id,
        )
    assert opened is not None  # a debit of a missing wallet was refused above
    await ledger.save(opened, new)
    await ledger.repo.set_actor(tenant_id, f"adjust:{key}", actor_id)
    if points > 0:  # a level badge may be due
        await badges.check_levels(session, tenant_id, [member_id])
    return await summary(session, tenant_id, member_id) or _empty(member_id, LevelScheme())


async def settle_memberships(
    session: AsyncSession, tenant_id: str, news: dict[str, MembershipOutcome], reason: str
) -> None:
    """What membership events said (a refund, a trial ended unpaid or paid), merged into
    what was known; then every lot those memberships credited follows (``settle_held``):
    reversed, released from its hold, or left alone."""
    merged = await PointsRepository(session).merge_outcomes(tenant_id, news, utcnow())
    causes = {cause_key("membership_id", m): outcome for m, outcome in merged.items()}
    await _settle_lots(session, tenant_id, causes, reason)


async def reverse_caused(
    session: AsyncSession, tenant_id: str, causes: Sequence[str], reason: str
) -> None:
    """Take back every lot the causes credited (content rejected after approval): the
    same reversal a refund makes; a lot already reversed is left alone, so a redelivered
    rejection changes nothing."""
    forfeited = MembershipOutcome(forfeited=True)
    await _settle_lots(session, tenant_id, dict.fromkeys(causes, forfeited), reason)


async def _settle_lots(
    session: AsyncSession, tenant_id: str, causes: dict[str, MembershipOutcome], reason: str
) -> None:
    ledger = Ledger(session)
    found: list[CausedLot] = await ledger.repo.lots_caused_by(tenant_id, sorted(causes))
    for wallet_id, caused in groupby(found, key=lambda item: item.wallet_id):  # lock order
        items = list(caused)
        opened = await ledger.open_by_id(wallet_id, [item.lot_id for item in items])
        now = utcnow()
        new: list[Entry] = []
        for item in items:
            lot = opened.wallet.lots[item.lot_id]
            outcome = causes[lot.cause or ""]
            action = settle_held(lot, outcome)
            if action is Settle.REVERSE:
                link = (item.entry_id, item.entry_key or "") if item.entry_id else None
                new += opened.wallet.reverse(lot.id, now, reason, reverses=link)
            elif action is Settle.UNHOLD and outcome.paid_window_ends_at is not None:
                new += opened.wallet.unhold(lot.id, outcome.paid_window_ends_at, now)
        await ledger.record(opened, new)
    await ledger.flush()


# ------------------------------------------------------------------- reads


async def summary(session: AsyncSession, tenant_id: str, member_id: str) -> Summary | None:
    points = PointsRepository(session)
    row = await points.wallet(tenant_id, member_id)
    if row is None:
        return None
    scheme = await LevelRepository(session).level_scheme(tenant_id)
    return Summary(
        member_id, row.available, row.pending, row.lifetime, row.debt, scheme.progress(row.lifetime)
    )


async def summary_or_empty(session: AsyncSession, tenant_id: str, member_id: str) -> Summary:
    found = await summary(session, tenant_id, member_id)
    scheme = await LevelRepository(session).level_scheme(tenant_id)
    return found or _empty(member_id, scheme)


async def adjustments(
    session: AsyncSession,
    tenant_id: str,
    where: AdjustmentQuery,
    *,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    return await PointsRepository(session).adjustments_page(
        tenant_id, where, before_id=before_id, limit=limit
    )


async def entries(
    session: AsyncSession, tenant_id: str, member_id: str, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    points = PointsRepository(session)
    row = await points.wallet(tenant_id, member_id)
    if row is None:
        return []
    return await points.entries_page(row.id, before_id=before_id, limit=limit)


def _empty(member_id: str, scheme: LevelScheme) -> Summary:
    return Summary(member_id, 0, 0, 0, 0, scheme.progress(0))
