"""Use cases of the rewards service; events go out through the outbox.

Consumers and timers call these inside the transaction their runner owns; the
API calls them through ``Rewards``, one transaction per request. Every wallet
change goes the same way: lock and load the wallet with the lots it needs, let
the domain decide, then write the entries, the lots, the wallet (conditional on
its version) and the events in that same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rewards import events
from rewards.domain.ledger import Credit, Entry, EntryKind, Lot, LotState, Wallet
from rewards.domain.levels import LevelProgress, LevelScheme
from rewards.domain.rules import MEMBERSHIP_REFUNDED, EarningRule, capped, cause_key, default_rules
from rewards.repository import Balances, Repository, WalletRow
from servicekit import timers
from servicekit.db import read_only
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.problems import Problem
from servicekit.types import utcnow

RELEASE_TIMER = "rewards.release"
EXPIRE_TIMER = "rewards.expire"


@dataclass
class OpenWallet:
    row: WalletRow
    wallet: Wallet
    loaded: dict[str, Lot]  # the lots as read, to know which ones changed

    @property
    def member_id(self) -> str:
        return self.row.member_id


class Ledger:
    """Loads a wallet for change and writes what the domain did to it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = Repository(session)

    async def open(self, tenant_id: str, member_id: str, *, create: bool) -> OpenWallet | None:
        row = await self.repo.wallet(tenant_id, member_id, lock=True)
        if row is None and create:
            await self.repo.create_wallet(tenant_id, member_id, utcnow())
            row = await self.repo.wallet(tenant_id, member_id, lock=True)
        return await self._load(row) if row else None

    async def open_by_id(self, wallet_id: int, lot_ids: Sequence[str] = ()) -> OpenWallet:
        return await self._load(await self.repo.wallet_by_id(wallet_id), lot_ids)

    async def _load(self, row: WalletRow, lot_ids: Sequence[str] = ()) -> OpenWallet:
        lots = await self.repo.open_lots(row.id, also=lot_ids)
        wallet = Wallet(
            available=row.available,
            pending=row.pending,
            lifetime=row.lifetime,
            debt=row.debt,
            lots={lot.id: lot for lot in lots},
        )
        return OpenWallet(row, wallet, {lot.id: replace(lot) for lot in lots})

    async def save(self, opened: OpenWallet, new: Sequence[Entry]) -> None:
        if not new:
            return
        row, wallet = opened.row, opened.wallet
        await self._save_lots(opened)
        await self.repo.insert_entries(row.tenant_id, row.id, new)
        scheme = await self.repo.level_scheme(row.tenant_id)
        after = Balances(
            wallet.available,
            wallet.pending,
            wallet.lifetime,
            wallet.debt,
            scheme.level_of(wallet.lifetime),
        )
        now = utcnow()
        await self.repo.save_wallet(row, after, now)
        for entry in new:
            await add_event(
                self.session, events.entry_event(row.tenant_id, row.member_id, entry, after)
            )
        if after.level != row.level:
            progress = scheme.progress(wallet.lifetime)
            await add_event(
                self.session,
                events.level_changed(
                    row.tenant_id,
                    row.member_id,
                    row.level,
                    progress,
                    wallet.lifetime,
                    now.isoformat(),
                ),
            )

    async def _save_lots(self, opened: OpenWallet) -> None:
        row = opened.row
        for lot in opened.wallet.lots.values():
            before = opened.loaded.get(lot.id)
            if before is None:
                await self.repo.insert_lot(row.tenant_id, row.id, lot)
                await self._schedule(row, lot)
            elif before != lot:
                await self.repo.update_lot(lot)
                if lot.state is LotState.REVERSED:
                    await timers.cancel(self.session, RELEASE_TIMER, lot.id)
                    await timers.cancel(self.session, EXPIRE_TIMER, lot.id)

    async def _schedule(self, row: WalletRow, lot: Lot) -> None:
        payload = {"tenant_id": row.tenant_id, "wallet_id": row.id, "lot_id": lot.id}
        if lot.state is LotState.PENDING:
            await timers.schedule(self.session, RELEASE_TIMER, lot.id, lot.available_at, payload)
        if lot.expires_at is not None:
            await timers.schedule(self.session, EXPIRE_TIMER, lot.id, lot.expires_at, payload)


# ---------------------------------------------------------------- tenants


async def set_up_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Default rules and levels, written the first time a tenant's event arrives.

    Lazily rather than from ``gateway.tenant.created``: tenants that existed before
    rewards was deployed get them too, and no ordering between topics is needed.
    """
    await Repository(session).set_up_tenant(tenant_id, default_rules(), LevelScheme(), utcnow())


# ---------------------------------------------------------------- consumers


async def apply_rules(session: AsyncSession, event: Event) -> None:
    """Table-driven: every active rule of the tenant for the event's type, each at most once."""
    await set_up_tenant(session, event.tenant_id)
    for rule in await Repository(session).active_rules(event.tenant_id, event.type):
        await _apply_rule(session, rule, event)


async def _apply_rule(session: AsyncSession, rule: EarningRule, event: Event) -> None:
    award = rule.award(event.type, event.data, event.time)
    key = f"{event.id}:{rule.rule_id}"  # redelivery and replay land on the same key
    if award is None or await Repository(session).entry_exists(event.tenant_id, key):
        return
    ledger = Ledger(session)
    opened = await ledger.open(event.tenant_id, award.member_id, create=True)
    assert opened is not None
    earned = await ledger.repo.earned_from_rule(opened.row.id, rule.rule_id, event.time)
    points = capped(award.points, rule.caps, earned)
    if points == 0:
        return
    credit = Credit(
        key=key,
        lot_id=str(uuid.uuid4()),
        points=points,
        at=event.time,
        available_at=award.available_at,
        expires_at=award.expires_at,
        cause=award.cause,
        community_id=award.community_id,
        rule_id=award.rule_id,
        rule_version=award.rule_version,
    )
    await ledger.save(opened, opened.wallet.credit(credit))


async def on_membership_refunded(session: AsyncSession, event: Event) -> None:
    membership_id = event.data.get("membership_id")
    if not isinstance(membership_id, str) or not membership_id:
        raise ValueError(f"{MEMBERSHIP_REFUNDED} {event.id} has no membership_id")
    await reverse_cause(
        session, event.tenant_id, cause_key("membership_id", membership_id), "membership refunded"
    )


async def reverse_cause(session: AsyncSession, tenant_id: str, cause: str, reason: str) -> None:
    """Reverse every lot the cause credited, in every wallet, pending or available."""
    ledger = Ledger(session)
    found = await ledger.repo.lots_caused_by(tenant_id, cause)
    for wallet_id, pairs in groupby(found, key=lambda pair: pair[0]):
        lot_ids = [lot_id for _, lot_id in pairs]
        opened = await ledger.open_by_id(wallet_id, lot_ids)
        now = utcnow()
        new = [entry for lot_id in lot_ids for entry in opened.wallet.reverse(lot_id, now, reason)]
        await ledger.save(opened, new)


# ------------------------------------------------------------------- timers


async def release_due(session: AsyncSession, timer: timers.Timer) -> None:
    ledger = Ledger(session)
    lot_id = str(timer.payload["lot_id"])
    opened = await ledger.open_by_id(int(timer.payload["wallet_id"]), [lot_id])
    await ledger.save(opened, opened.wallet.release(lot_id, _as_of(timer)))


async def expire_due(session: AsyncSession, timer: timers.Timer) -> None:
    ledger = Ledger(session)
    lot_id = str(timer.payload["lot_id"])
    opened = await ledger.open_by_id(int(timer.payload["wallet_id"]), [lot_id])
    await ledger.save(opened, opened.wallet.expire(lot_id, _as_of(timer)))


def _as_of(timer: timers.Timer) -> datetime:
    """A timer acts as of its due time: a runner that claimed it is never "too early"."""
    return max(utcnow(), timer.due_at)


# ---------------------------------------------------------------- API side


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
) -> Summary:
    """An operator's correction: a positive one is a credit (available at once, never
    expiring, counted in lifetime points); a negative one a debit of available points."""
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
    return await _summary(session, tenant_id, member_id) or _empty(member_id, LevelScheme())


class Rewards:
    """Read use cases for the API: one read-only transaction each."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def summary(self, tenant_id: str, member_id: str) -> Summary | None:
        async with read_only(self.sessions) as session:
            return await _summary(session, tenant_id, member_id)

    async def summary_or_empty(self, tenant_id: str, member_id: str) -> Summary:
        async with read_only(self.sessions) as session:
            found = await _summary(session, tenant_id, member_id)
            scheme = await Repository(session).level_scheme(tenant_id)
        return found or _empty(member_id, scheme)

    async def entries(
        self, tenant_id: str, member_id: str, *, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            row = await repo.wallet(tenant_id, member_id)
            if row is None:
                return []
            return await repo.entries_page(row.id, before_id=before_id, limit=limit)


async def _summary(session: AsyncSession, tenant_id: str, member_id: str) -> Summary | None:
    repo = Repository(session)
    row = await repo.wallet(tenant_id, member_id)
    if row is None:
        return None
    scheme = await repo.level_scheme(tenant_id)
    return Summary(
        member_id, row.available, row.pending, row.lifetime, row.debt, scheme.progress(row.lifetime)
    )


def _empty(member_id: str, scheme: LevelScheme) -> Summary:
    return Summary(member_id, 0, 0, 0, 0, scheme.progress(0))
