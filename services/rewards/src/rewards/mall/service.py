"""The points mall's use cases: operators keep the catalog and close redemptions;
members browse and redeem. Each takes a session: one transaction per use case, opened
by the entry point. Points move through the ledger (``rewards.points.ledger``), events
go out through the outbox.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rewards import events
from rewards.mall.domain import (
    RESTORED_POINTS_MIN_LIFE,
    ItemKind,
    RedemptionStatus,
    Refusal,
    can_move,
    valid_window,
)
from rewards.mall.repository import After, ItemRow, MallRepository, RedemptionRow
from rewards.points.ledger import Ledger, OpenWallet
from rewards.points.repository import PointsRepository
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

# ------------------------------------------------------------------ catalog


@dataclass(frozen=True)
class NewItem:
    name: str
    description: str
    kind: ItemKind
    cost: int
    stock: int
    per_member_limit: int | None = None
    min_level: int = 1
    community_id: str | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None


async def create_item(session: AsyncSession, tenant_id: str, draft: NewItem) -> ItemRow:
    _check_window(draft.active_from, draft.active_until)
    now = utcnow()
    item = ItemRow(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        **asdict(draft),
        archived=False,
        created_at=now,
        updated_at=now,
    )
    await MallRepository(session).insert_item(item)
    return item


async def update_item(
    session: AsyncSession, tenant_id: str, item_id: str, changes: dict[str, Any]
) -> ItemRow:
    """Change some of an item's fields. ``stock`` is set, not added to: it is what is left
    now; redemptions already made keep their units."""
    repo = MallRepository(session)
    current = await repo.item(tenant_id, item_id, lock=True)
    if current is None:
        raise not_found("catalog item")
    merged = replace(current, **changes)
    _check_window(merged.active_from, merged.active_until)
    values = {**changes, "updated_at": utcnow()}
    if "kind" in values:
        values["kind"] = ItemKind(values["kind"]).value
    updated = await repo.update_item(tenant_id, item_id, values)
    assert updated is not None  # locked above
    return updated


def _check_window(active_from: datetime | None, active_until: datetime | None) -> None:
    if not valid_window(active_from, active_until):
        raise Problem(
            422,
            "invalid-window",
            "Invalid active window",
            "active_from must be before active_until",
        )


# -------------------------------------------------------------- redemptions


def scoped_key(member_id: str, key: str) -> str:
    """The Idempotency-Key as stored: keys are per tenant there, a member's must not meet
    another member's (the same key from two members is two requests)."""
    return f"redeem:{hashlib.sha256(member_id.encode()).hexdigest()[:16]}:{key}"


async def redeem(
    session: AsyncSession,
    *,
    tenant_id: str,
    member_id: str,
    item_id: str,
    key: str,
    note: str | None,
) -> RedemptionRow:
    """Reserve one unit and its points, atomically: the wallet is locked first (so a
    member's redemptions queue and the per-member limit holds), then one unit is taken
    by a conditional UPDATE; any refusal rolls both back."""
    repo = MallRepository(session)
    item = await repo.item(tenant_id, item_id)
    if item is None or item.archived:
        raise not_found("catalog item")
    if await repo.redemption_by_key(tenant_id, member_id, key):
        # The Idempotency-Key record expired (24 h) but the redemption is forever.
        raise Problem(409, "redemption-exists", "Redemption exists", "this key was already used")
    ledger = Ledger(session)
    opened = await ledger.open(tenant_id, member_id, create=False)
    counts = await repo.redeemed_counts(tenant_id, member_id, [item_id])
    _check_refusal(item, opened, counts.get(item_id, 0))
    taken = await repo.take_stock(tenant_id, item_id)
    if taken is None:
        raise Problem(409, "out-of-stock", "Out of stock", "no unit of this item is left")
    _check_refusal(taken, opened, counts.get(item_id, 0))  # the terms as locked, if changed
    assert opened is not None  # a member without a wallet has no points: refused above
    now = utcnow()
    redemption_id = str(uuid.uuid4())
    [spend] = opened.wallet.debit(
        f"redeem:{redemption_id}",
        taken.cost,
        now,
        reason=f"redeemed {taken.name}",
        community_id=taken.community_id,
    )
    await ledger.save(opened, [spend])
    redemption = RedemptionRow(
        id=redemption_id,
        tenant_id=tenant_id,
        item_id=item_id,
        member_id=member_id,
        request_key=key,
        item_name=taken.name,
        item_kind=taken.kind,
        points=taken.cost,
        allocations=spend.allocations,
        status=RedemptionStatus.REQUESTED,
        community_id=taken.community_id,
        note=note,
        reference=None,
        cancel_reason=None,
        closed_by=None,
        created_at=now,
        closed_at=None,
    )
    await repo.insert_redemption(redemption)
    await add_event(session, events.redemption(redemption))
    return redemption


def _check_refusal(item: ItemRow, opened: OpenWallet | None, redeemed: int) -> None:
    refusal = item.terms().refusal(
        at=utcnow(),
        level=opened.row.level if opened else 1,
        available=opened.wallet.available if opened else 0,
        redeemed=redeemed,
    )
    if refusal is not None:
        title, detail = _REFUSALS[refusal]
        raise Problem(409, refusal.value, title, detail)


_REFUSALS = {
    Refusal.UNAVAILABLE: ("Not on offer", "the item is outside its active window"),
    Refusal.LEVEL_TOO_LOW: ("Level too low", "the item needs a higher level"),
    Refusal.LIMIT_REACHED: ("Limit reached", "you redeemed this item as often as allowed"),
    Refusal.INSUFFICIENT_POINTS: ("Not enough points", "not enough available points"),
}


async def fulfil_redemption(
    session: AsyncSession,
    tenant_id: str,
    redemption_id: str,
    operator_id: str,
    reference: str | None,
) -> RedemptionRow:
    values = {"reference": reference}
    closed, moved = await _close(
        session, tenant_id, redemption_id, RedemptionStatus.FULFILLED, operator_id, values
    )
    if moved:
        await add_event(session, events.redemption(closed))
    return closed


async def cancel_redemption(
    session: AsyncSession, tenant_id: str, redemption_id: str, operator_id: str, reason: str
) -> RedemptionRow:
    """Give the points back (see ``Wallet.restore``) and the unit back to the stock."""
    values = {"cancel_reason": reason}
    closed, moved = await _close(
        session, tenant_id, redemption_id, RedemptionStatus.CANCELLED, operator_id, values
    )
    if not moved:
        return closed
    ledger = Ledger(session)
    opened = await ledger.open(tenant_id, closed.member_id, create=False)
    assert opened is not None  # the redemption spent from it
    new = opened.wallet.restore(
        f"restore:{closed.id}",
        closed.allocations,
        [str(uuid.uuid4()) for _ in closed.allocations],
        utcnow(),
        min_life=RESTORED_POINTS_MIN_LIFE,
        reason=f"redemption of {closed.item_name} cancelled: {reason}",
        community_id=closed.community_id,
    )
    await ledger.save(opened, new)
    await MallRepository(session).return_stock(tenant_id, closed.item_id)
    await add_event(session, events.redemption(closed))
    return closed


async def _close(
    session: AsyncSession,
    tenant_id: str,
    redemption_id: str,
    to: RedemptionStatus,
    operator_id: str,
    values: dict[str, Any],
) -> tuple[RedemptionRow, bool]:
    """(the redemption, whether this call moved it). Asking again for the state it is
    already in answers it unchanged, so an operator's retry is harmless."""
    repo = MallRepository(session)
    closed = await repo.close_redemption(
        tenant_id,
        redemption_id,
        {**values, "status": to.value, "closed_by": operator_id, "closed_at": utcnow()},
    )
    if closed is not None:
        return closed, True
    current = await repo.redemption(tenant_id, redemption_id)
    if current is None:
        raise not_found("redemption")
    if current.status is to:
        return current, False
    assert not can_move(current.status, to)
    raise Problem(
        409,
        "redemption-closed",
        "Redemption closed",
        f"the redemption is {current.status.value}",
        status_now=current.status.value,
    )


# ------------------------------------------------------------------- reads


@dataclass(frozen=True)
class CatalogEntry:
    """An item as a member sees it: with what they may still do with it."""

    item: ItemRow
    redeemed: int  # by this member, not cancelled
    eligible: bool  # level high enough
    left_for_me: int | None


async def items(
    session: AsyncSession, tenant_id: str, *, after: After, limit: int
) -> list[ItemRow]:
    return await MallRepository(session).items_page(tenant_id, after=after, limit=limit)


async def item(session: AsyncSession, tenant_id: str, item_id: str) -> ItemRow:
    found = await MallRepository(session).item(tenant_id, item_id)
    if found is None:
        raise not_found("catalog item")
    return found


async def catalog(
    session: AsyncSession,
    tenant_id: str,
    member_id: str,
    *,
    after: After,
    limit: int,
    community_id: str | None,
) -> list[CatalogEntry]:
    """Items on offer now, oldest first (``limit + 1`` rows)."""
    repo = MallRepository(session)
    rows = await repo.items_page(
        tenant_id, after=after, limit=limit, on_offer_at=utcnow(), community_id=community_id
    )
    counts = await repo.redeemed_counts(tenant_id, member_id, [row.id for row in rows])
    wallet = await PointsRepository(session).wallet(tenant_id, member_id)
    level = wallet.level if wallet else 1
    return [
        CatalogEntry(
            row,
            counts.get(row.id, 0),
            level >= row.min_level,
            row.terms().left_for(counts.get(row.id, 0)),
        )
        for row in rows
    ]


async def catalog_entry(
    session: AsyncSession, tenant_id: str, member_id: str, item_id: str
) -> CatalogEntry:
    repo = MallRepository(session)
    row = await repo.item(tenant_id, item_id)
    if row is None or not row.terms().on_offer(utcnow()):
        raise not_found("catalog item")
    redeemed = (await repo.redeemed_counts(tenant_id, member_id, [item_id])).get(item_id, 0)
    wallet = await PointsRepository(session).wallet(tenant_id, member_id)
    level = wallet.level if wallet else 1
    return CatalogEntry(row, redeemed, level >= row.min_level, row.terms().left_for(redeemed))


async def redemptions(
    session: AsyncSession,
    tenant_id: str,
    *,
    after: After,
    limit: int,
    member_id: str | None = None,
    status: RedemptionStatus | None = None,
    item_id: str | None = None,
    newest_first: bool = False,
) -> list[RedemptionRow]:
    return await MallRepository(session).redemptions_page(
        tenant_id,
        after=after,
        limit=limit,
        member_id=member_id,
        status=status,
        item_id=item_id,
        newest_first=newest_first,
    )


async def redemption(
    session: AsyncSession, tenant_id: str, redemption_id: str, member_id: str | None = None
) -> RedemptionRow:
    """One redemption; a member sees only their own (someone else's is a 404)."""
    found = await MallRepository(session).redemption(tenant_id, redemption_id)
    if found is None or (member_id is not None and found.member_id != member_id):
        raise not_found("redemption")
    return found
