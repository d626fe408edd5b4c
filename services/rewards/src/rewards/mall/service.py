"""Use cases of the rewards service; events go out through the outbox.

Consumers and timers call these inside the transaction their runner owns; the
API calls them through ``Rewards``, one transaction per request. Every wallet
change goes the same way: lock and load the wallet with the lots it needs, let
the domain decide, then write the entries, the lots, the wallet (conditional on
its version) and the events in that same transaction (``rewards.ledger``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rewards import badges, events
from rewards.domain.leaderboard import (
    Period,
    Standing,
    kept_span,
    ranked,
)
from rewards.domain.ledger import Credit, EntryKind, Wallet
from rewards.domain.levels import LevelProgress, LevelScheme
from rewards.domain.mall import (
    RESTORED_POINTS_MIN_LIFE,
    ItemKind,
    RedemptionStatus,
    Refusal,
    can_move,
    valid_window,
)
from rewards.domain.rules import (
    MEMBERSHIP_REFUNDED,
    Award,
    Caps,
    EarningRule,
    Periods,
    capped,
    cause_key,
    default_rules,
    earned_so_far,
)
from rewards.ledger import Ledger, OpenWallet, expiry_day
from rewards.repository import (
    AdjustmentQuery,
    After,
    BoardSource,
    ItemRow,
    RedemptionRow,
    Repository,
)
from servicekit import timers
from servicekit.db import read_only, transaction
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

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
    await apply_rules_many(session, [event])


async def apply_rules_many(session: AsyncSession, batch: Sequence[Event]) -> None:
    """``apply_rules`` for a whole consumer batch (``servicekit.consumer.Batched``): the
    same credits and events as one event at a time, in a few statements per tenant."""
    ledger = Ledger(session)
    by_tenant: dict[str, list[Event]] = {}
    for event in batch:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    credited: dict[str, list[str]] = {}
    for tenant_id, tenant_events in by_tenant.items():  # wallets never span tenants
        credited[tenant_id] = await _apply_tenant_rules(ledger, tenant_id, tenant_events)
    await ledger.flush()
    for tenant_id, tenant_events in by_tenant.items():  # the same events, and levels now
        await badges.evaluate(session, tenant_id, tenant_events, credited[tenant_id])


@dataclass(frozen=True)
class _Candidate:
    event: Event
    rule: EarningRule
    award: Award
    key: str


async def _apply_tenant_rules(ledger: Ledger, tenant_id: str, batch: Sequence[Event]) -> list[str]:
    """Returns the members the rules credit (their level may have changed)."""
    await set_up_tenant(ledger.session, tenant_id)
    candidates = await _candidates(ledger.repo, tenant_id, batch)
    if not candidates:
        return []
    members = list(dict.fromkeys(c.award.member_id for c in candidates))
    wallets = await ledger.open_many(tenant_id, members)
    earned = await _earned(ledger.repo, candidates, wallets)
    scheme = await ledger.scheme(tenant_id)
    for candidate in candidates:  # in event order, rules in id order, as one by one
        opened = wallets[candidate.award.member_id]
        so_far = earned.setdefault((opened.row.id, candidate.rule.rule_id), [])
        # The level as of this credit (earlier credits of the batch count), under the
        # tenant's current thresholds; multipliers apply before caps.
        level = scheme.level_of(opened.wallet.lifetime)
        boosted = candidate.rule.boosted(candidate.award.points, level, candidate.event.data)
        points = capped(boosted, candidate.rule.caps, earned_so_far(so_far, candidate.event.time))
        if points == 0:
            continue
        so_far.append((candidate.event.time, points))
        await ledger.record(opened, opened.wallet.credit(_credit(candidate, points)))
    return members


async def _candidates(repo: Repository, tenant_id: str, batch: Sequence[Event]) -> list[_Candidate]:
    """What each event's rules award, less what an earlier delivery already credited."""
    rules = {t: await repo.active_rules(tenant_id, t) for t in dict.fromkeys(e.type for e in batch)}
    found = []
    for event in batch:
        for rule in rules[event.type]:
            award = rule.award(event.type, event.data, event.time)
            if award is not None:
                key = rule.award_key(event.id, event.data)
                found.append(_Candidate(event, rule, award, key))
    unique: dict[str, _Candidate] = {}
    for candidate in found:  # the consumer never repeats an event in a batch; still
        unique.setdefault(candidate.key, candidate)
    done = await repo.existing_keys(tenant_id, list(unique))
    return [c for key, c in unique.items() if key not in done]


async def _earned(
    repo: Repository, candidates: Sequence[_Candidate], wallets: dict[str, OpenWallet]
) -> dict[tuple[int, str], list[tuple[datetime, int]]]:
    """(wallet, rule) → earlier earnings the caps count, for every capped candidate."""
    capped_rules = {c.rule.rule_id for c in candidates if c.rule.caps != Caps()}
    if not capped_rules:
        return {}
    since = min(
        min(p.week, p.month) for p in (Periods.containing(c.event.time) for c in candidates)
    )
    rows = await repo.earned_since(
        [w.row.id for w in wallets.values()], sorted(capped_rules), since
    )
    found: dict[tuple[int, str], list[tuple[datetime, int]]] = {}
    for wallet_id, rule_id, at, points in rows:
        found.setdefault((wallet_id, rule_id), []).append((at, points))
    return found


def _credit(candidate: _Candidate, points: int) -> Credit:
    award = candidate.award
    return Credit(
        key=candidate.key,
        lot_id=str(uuid.uuid4()),
        points=points,
        at=candidate.event.time,
        available_at=award.available_at,
        expires_at=award.expires_at,
        cause=award.cause,
        community_id=award.community_id,
        rule_id=award.rule_id,
        rule_version=award.rule_version,
    )


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


async def announce_due(session: AsyncSession, timer: timers.Timer) -> None:
    """``points.will_expire`` for the member's lots expiring on the timer's day that
    still hold points and were not announced: spent, expired and reversed lots say
    nothing, and a lot is announced once however often the timer fires."""
    repo = Repository(session)
    wallet = await repo.wallet_by_id(int(timer.payload["wallet_id"]))  # locked: spends wait
    first, end = expiry_day(datetime.fromisoformat(f"{timer.payload['day']}T00:00:00+00:00"))
    found = await repo.lots_to_announce(wallet.id, first, end, _as_of(timer))
    if not found:
        return
    now = utcnow()
    await repo.mark_announced(wallet.tenant_id, [lot.id for lot in found], now)
    await add_event(
        session, events.will_expire(wallet.tenant_id, wallet.member_id, first.date(), found, now)
    )


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
    return await _summary(session, tenant_id, member_id) or _empty(member_id, LevelScheme())


# -------------------------------------------------------------------- mall


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
    await Repository(session).insert_item(item)
    return item


async def update_item(
    session: AsyncSession, tenant_id: str, item_id: str, changes: dict[str, Any]
) -> ItemRow:
    """Change some of an item's fields. ``stock`` is set, not added to: it is what is left
    now; redemptions already made keep their units."""
    repo = Repository(session)
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
    repo = Repository(session)
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
    await Repository(session).return_stock(tenant_id, closed.item_id)
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
    repo = Repository(session)
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


@dataclass(frozen=True)
class CatalogEntry:
    """An item as a member sees it: with what they may still do with it."""

    item: ItemRow
    redeemed: int  # by this member, not cancelled
    eligible: bool  # level high enough
    left_for_me: int | None


@dataclass(frozen=True)
class Board:
    period: Period
    top: list[Standing]
    me: Standing | None  # None: not asked for, or no points in the period
    stale_windows: bool = False  # the rolling windows want rebuilding for today


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

    async def adjustments(
        self, tenant_id: str, where: AdjustmentQuery, *, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        async with read_only(self.sessions) as session:
            return await Repository(session).adjustments_page(
                tenant_id, where, before_id=before_id, limit=limit
            )

    async def entries(
        self, tenant_id: str, member_id: str, *, before_id: int | None, limit: int
    ) -> list[dict[str, Any]]:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            row = await repo.wallet(tenant_id, member_id)
            if row is None:
                return []
            return await repo.entries_page(row.id, before_id=before_id, limit=limit)

    async def items(self, tenant_id: str, *, after: After, limit: int) -> list[ItemRow]:
        async with read_only(self.sessions) as session:
            return await Repository(session).items_page(tenant_id, after=after, limit=limit)

    async def item(self, tenant_id: str, item_id: str) -> ItemRow:
        async with read_only(self.sessions) as session:
            found = await Repository(session).item(tenant_id, item_id)
        if found is None:
            raise not_found("catalog item")
        return found

    async def catalog(
        self,
        tenant_id: str,
        member_id: str,
        *,
        after: After,
        limit: int,
        community_id: str | None,
    ) -> list[CatalogEntry]:
        """Items on offer now, oldest first (``limit + 1`` rows)."""
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            rows = await repo.items_page(
                tenant_id, after=after, limit=limit, on_offer_at=utcnow(), community_id=community_id
            )
            counts = await repo.redeemed_counts(tenant_id, member_id, [row.id for row in rows])
            wallet = await repo.wallet(tenant_id, member_id)
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

    async def catalog_entry(self, tenant_id: str, member_id: str, item_id: str) -> CatalogEntry:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            row = await repo.item(tenant_id, item_id)
            if row is None or not row.terms().on_offer(utcnow()):
                raise not_found("catalog item")
            redeemed = (await repo.redeemed_counts(tenant_id, member_id, [item_id])).get(item_id, 0)
            wallet = await repo.wallet(tenant_id, member_id)
        level = wallet.level if wallet else 1
        return CatalogEntry(row, redeemed, level >= row.min_level, row.terms().left_for(redeemed))

    async def redemptions(
        self,
        tenant_id: str,
        *,
        after: After,
        limit: int,
        member_id: str | None = None,
        status: RedemptionStatus | None = None,
        item_id: str | None = None,
        newest_first: bool = False,
    ) -> list[RedemptionRow]:
        async with read_only(self.sessions) as session:
            return await Repository(session).redemptions_page(
                tenant_id,
                after=after,
                limit=limit,
                member_id=member_id,
                status=status,
                item_id=item_id,
                newest_first=newest_first,
            )

    async def redemption(
        self, tenant_id: str, redemption_id: str, member_id: str | None = None
    ) -> RedemptionRow:
        """One redemption; a member sees only their own (someone else's is a 404)."""
        async with read_only(self.sessions) as session:
            found = await Repository(session).redemption(tenant_id, redemption_id)
        if found is None or (member_id is not None and found.member_id != member_id):
            raise not_found("redemption")
        return found

    async def leaderboard(
        self,
        tenant_id: str,
        *,
        scope: str,
        period: Period,
        limit: int,
        member_id: str | None,
        today: date,
    ) -> Board:
        """The top ``limit`` and, for a member, their own standing: found in the top, or
        their score and a count of the members strictly ahead of it.

        All time and the rolling windows read kept rows in index order; a custom
        period, or a window whose rows were not rebuilt for today yet, sums the day
        rows (slower, as exact) and says so in ``stale_windows``."""
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            source, stale = await _board_source(repo, tenant_id, period, today)
            top = ranked(await repo.board_top(tenant_id, scope, source, limit))
            me = next((s for s in top if s.member_id == member_id), None)
            if me is None and member_id is not None:
                score = await repo.board_score(tenant_id, scope, source, member_id)
                if score is not None:
                    ahead = await repo.board_ahead(tenant_id, scope, source, *score, member_id)
                    me = Standing(member_id, score[0], score[1], ahead + 1)
        return Board(period, top, me, stale)

    async def rebuild_windows(self, tenant_id: str, today: date) -> list[int]:
        """Rebuild the rolling windows for ``today`` (a no-op once done): one tenant-wide
        pass over the day rows per span, writers of scores waiting meanwhile."""
        async with transaction(self.sessions) as session:
            return await Repository(session).rebuild_windows(tenant_id, today)


async def _board_source(
    repo: Repository, tenant_id: str, period: Period, today: date
) -> tuple[BoardSource, bool]:
    """(where the board's scores come from, whether rolling windows want a rebuild)."""
    if period.first is None:
        return BoardSource(), False
    span = kept_span(period, today)
    if span is None:
        return BoardSource(days=period), False
    if (await repo.window_states(tenant_id)).get(span) == today:
        return BoardSource(span=span), False
    return BoardSource(days=period), True


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
