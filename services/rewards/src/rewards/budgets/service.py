"""The budget's use cases: operators fund it; a drop's events reserve, pay and release.

A claim's payment and the member's credit are written in one transaction: the member is
credited exactly what the budget paid (``rewards.budgets.domain``), as an earning of
the ``claimed-drop`` rule id (members' histories and reports keep their label).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rewards import events
from rewards.budgets.domain import Budget, BudgetError, DropNews, Entry, EntryKind
from rewards.budgets.repository import BudgetRepository
from rewards.points.domain import Credit
from rewards.points.ledger import Ledger
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.problems import Problem
from servicekit.types import utcnow

DROP_CREATED = "quanzi.activities.drop.created.v1"
DROP_CLAIMED = "quanzi.activities.drop.claimed.v1"
DROP_EXPIRED = "quanzi.activities.drop.expired.v1"
DROP_EVENTS = (DROP_CREATED, DROP_CLAIMED, DROP_EXPIRED)
DROP_RULE = "claimed-drop"  # the label of a paid share in the member's history
SHARE_LIFE = timedelta(days=365)  # as other activities' earnings


@dataclass(frozen=True)
class Balances:
    available: int
    reserved: int
    funded: int  # funded less withdrawn, ever
    paid: int  # paid to members, ever


async def fund(
    session: AsyncSession, tenant_id: str, points: int, reason: str, actor_id: str, key: str
) -> Balances:
    """An operator's funding (positive) or withdrawal (negative, of unreserved points)."""
    repo = BudgetRepository(session)
    if await repo.known_keys(tenant_id, [f"fund:{key}"]):
        # The Idempotency-Key row expired (24 h) but the entry is forever: still refuse.
        raise Problem(
            409, "funding-exists", "Funding exists", "this Idempotency-Key was already used"
        )
    now = utcnow()
    opened = await repo.open(tenant_id, [], now)
    new = opened.budget.fund(f"fund:{key}", points, now, actor_id=actor_id, reason=reason)
    await repo.save(opened, new, now)
    return await balances(session, tenant_id)


async def balances(session: AsyncSession, tenant_id: str) -> Balances:
    return Balances(**await BudgetRepository(session).balances(tenant_id))


async def entries(
    session: AsyncSession,
    tenant_id: str,
    *,
    drop_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    return await BudgetRepository(session).entries(
        tenant_id, drop_id=drop_id, before_id=before_id, limit=limit
    )


# ------------------------------------------------------------------ drops' events


def news_of(event: Event) -> DropNews:
    """Any drop event names the drop and its total (a claim carries ``drop_total``; one
    published before it did counts as a drop of its own share)."""
    data = event.data
    total = data.get("total_points", data.get("drop_total", data.get("points")))
    drop_id = data.get("drop_id")
    if not isinstance(drop_id, str) or not isinstance(total, int) or isinstance(total, bool):
        raise ValueError(f"{event.type} {event.id} names no drop and total")
    return DropNews(drop_id, total, event.time, data.get("community_id"))


async def on_drop_event(session: AsyncSession, event: Event) -> None:
    """Reserve (any first event of a drop), pay a claim, release at the expiry."""
    news = news_of(event)
    repo = BudgetRepository(session)
    claim_id = str(event.data.get("claim_id") or "")
    if event.type == DROP_CLAIMED and await repo.known_keys(event.tenant_id, [f"pay:{claim_id}"]):
        return  # the same claim published twice
    now = utcnow()
    opened = await repo.open(event.tenant_id, [news.drop_id], now)
    budget = opened.budget
    seen = news.drop_id in budget.drops
    try:
        new = _apply(budget, event, news, claim_id)
    except BudgetError as error:
        raise ValueError(f"{event.type} {event.id}: {error}") from error
    await repo.save(opened, new, now)
    if not seen and budget.refused(news.drop_id):
        await add_event(session, events.drop_refused(event.tenant_id, news, budget.available))
    for entry in new:
        if entry.kind is EntryKind.PAY:
            await _credit_member(session, event, entry)


def _apply(budget: Budget, event: Event, news: DropNews, claim_id: str) -> list[Entry]:
    if event.type == DROP_CLAIMED:
        member_id, points = event.data.get("member_id"), event.data.get("points")
        if not isinstance(member_id, str) or not isinstance(points, int) or not claim_id:
            raise BudgetError("a claim names its claim, member and points")
        return budget.pay(news, claim_id, member_id, points)
    if event.type == DROP_EXPIRED:
        back = event.data.get("returned_points")
        return budget.release(news, back if isinstance(back, int) else 0)
    return budget.open(news)


async def _credit_member(session: AsyncSession, event: Event, paid: Entry) -> None:
    assert paid.member_id is not None
    ledger = Ledger(session)
    opened = await ledger.open(event.tenant_id, paid.member_id, create=True)
    assert opened is not None
    credit = Credit(
        key=f"{DROP_RULE}:{paid.key}",
        lot_id=str(uuid.uuid4()),
        points=-paid.reserved_delta,
        at=event.time,
        available_at=event.time,
        expires_at=event.time + SHARE_LIFE,
        community_id=paid.community_id,
        rule_id=DROP_RULE,
        rule_version=1,
        cause=f"drop_id={paid.drop_id}",
    )
    await ledger.save(opened, opened.wallet.credit(credit))
