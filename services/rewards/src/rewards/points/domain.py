"""The points ledger of one member in one tenant: a wallet, its lots and its entries.

The wallet is an aggregate: every change goes through one of its operations,
which mutates the wallet and its lots and returns the append-only entries that
explain the change. Each entry carries the deltas it made to the four balances,
so "balance = sum of entries" is checkable at any time.

- **Lots.** Every credit is a lot (pending until ``available_at``, then available).
  Spending and expiry consume lots in order: soonest expiry first, then oldest.
- **Balances never go negative.** A debit larger than ``available`` is refused.
- **Reversing points already spent** (the documented policy): a reversal removes
  what remains of the lot; the part already spent is clawed back from the member's
  other available points; whatever still cannot be covered becomes ``debt``, which
  the next points to become available pay first (a ``settle`` entry). Points that
  had expired are not owed: the member never had the use of them.
- **Giving spent points back** (a cancelled redemption): a debit records which
  lots it took from (its allocations); ``restore`` credits the same points back
  as new available lots, each keeping the expiry of the lot it came from but with
  at least ``min_life`` left, so a cancellation never costs the member points.
  Restored points were never removed from lifetime points, so they do not add to
  them, and they pay any debt first like other newly available points.
- **Held points** (a trial's join points): a lot pending with no release time
  (``available_at`` None) until its membership is paid, then pending until that
  payment's refund window ends (``unhold``). ``MembershipOutcome`` and ``settle_held``
  decide, from what is known of the membership in any order of its events.
- **Every reversal names the entry it undoes** (``reverses_entry_id``): the credit that
  opened the lot, so a member's history explains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum


class EntryKind(StrEnum):
    EARN = "earn"  # credited by an earning rule
    RELEASE = "release"  # a pending lot became available
    SPEND = "spend"  # points used (redemption)
    EXPIRE = "expire"  # what was left of a lot at its expiry
    REVERSE = "reverse"  # a lot undone (its source was refunded or rejected)
    ADJUST = "adjust"  # an operator's correction, positive or negative
    SETTLE = "settle"  # newly available points paying the debt left by a reversal
    RESTORE = "restore"  # spent points given back (a cancelled redemption)


class LotState(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    REVERSED = "reversed"


class LedgerError(ValueError):
    """An operation the ledger refuses; nothing was changed."""


class InsufficientPoints(LedgerError):
    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"{wanted} points wanted, {available} available")
        self.wanted = wanted
        self.available = available


@dataclass
class Lot:
    id: str
    points: int  # as credited
    remaining: int
    state: LotState
    earned_at: datetime
    available_at: datetime | None  # None: held, pending until its membership is paid
    expires_at: datetime | None
    cause: str | None = None  # what a reversal looks for, e.g. "membership_id=m-1"
    community_id: str | None = None
    spent: int = 0  # consumed by spends, settlements and claw-backs
    expired: int = 0

    @property
    def open(self) -> bool:
        return self.state is not LotState.REVERSED and self.remaining > 0

    @property
    def held(self) -> bool:
        return self.state is LotState.PENDING and self.available_at is None

    def fifo_key(self) -> tuple[bool, datetime, datetime, str]:
        # Soonest expiry first (never-expiring last), then oldest: members lose the least.
        never = self.expires_at is None
        return (never, self.expires_at or self.earned_at, self.earned_at, self.id)


@dataclass(frozen=True)
class Allocation:
    """Points a debit took from one lot, and when that lot expires."""

    lot_id: str
    points: int
    expires_at: datetime | None


@dataclass(frozen=True)
class Entry:
    key: str  # unique per tenant: a redelivered cause produces the same key
    kind: EntryKind
    at: datetime
    available_delta: int = 0
    pending_delta: int = 0
    lifetime_delta: int = 0
    debt_delta: int = 0
    lot_id: str | None = None
    community_id: str | None = None
    rule_id: str | None = None
    rule_version: int | None = None
    cause: str | None = None
    reason: str | None = None
    allocations: tuple[Allocation, ...] = ()  # debits: the lots the points came from
    reverses_entry_id: int | None = None  # a reversal: the credit entry it undoes
    reverses_entry_key: str | None = None  # and that entry's key (for the event)

    @property
    def points(self) -> int:
        """The change the member sees: to what they hold (available plus pending)."""
        return self.available_delta + self.pending_delta


@dataclass(frozen=True)
class Credit:
    """Points to credit as a new lot."""

    key: str
    lot_id: str
    points: int
    at: datetime
    available_at: datetime | None  # None: held until its membership is paid
    expires_at: datetime | None = None
    kind: EntryKind = EntryKind.EARN
    cause: str | None = None
    community_id: str | None = None
    rule_id: str | None = None
    rule_version: int | None = None
    reason: str | None = None


@dataclass
class Wallet:
    available: int = 0
    pending: int = 0
    lifetime: int = 0  # points ever earned and not reversed: levels come from it
    debt: int = 0
    lots: dict[str, Lot] = field(default_factory=dict)

    # ------------------------------------------------------------ operations

    def credit(self, credit: Credit) -> list[Entry]:
        if credit.points <= 0:
            raise LedgerError("a credit must be positive")
        if credit.lot_id in self.lots:
            raise LedgerError(f"lot {credit.lot_id} exists")
        pending = credit.available_at is None or credit.available_at > credit.at
        lot = Lot(
            id=credit.lot_id,
            points=credit.points,
            remaining=credit.points,
            state=LotState.PENDING if pending else LotState.AVAILABLE,
            earned_at=credit.at,
            available_at=credit.available_at if pending else credit.at,
            expires_at=credit.expires_at,
            cause=credit.cause,
            community_id=credit.community_id,
        )
        self.lots[lot.id] = lot
        entry = Entry(
            key=credit.key,
            kind=credit.kind,
            at=credit.at,
            pending_delta=credit.points if pending else 0,
            available_delta=0 if pending else credit.points,
            lifetime_delta=credit.points,
            lot_id=lot.id,
            community_id=credit.community_id,
            rule_id=credit.rule_id,
            rule_version=credit.rule_version,
            cause=credit.cause,
            reason=credit.reason,
        )
        self._apply(entry)
        return [entry, *self._settle_from(lot, credit.at)]

    def release(self, lot_id: str, now: datetime) -> list[Entry]:
        """Pending → available once due; a no-op for a lot already released or reversed,
        or held (no release time yet)."""
        lot = self._lot(lot_id)
        if lot.state is not LotState.PENDING or lot.available_at is None or lot.available_at > now:
            return []
        lot.state = LotState.AVAILABLE
        entries: list[Entry] = []
        if lot.remaining > 0:
            entry = self._lot_entry(lot, EntryKind.RELEASE, now, available=lot.remaining)
            entries.append(replace(entry, pending_delta=-lot.remaining))
            self._apply(entries[-1])
        return entries + self._settle_from(lot, now)

    def debit(
        self,
        key: str,
        points: int,
        at: datetime,
        *,
        kind: EntryKind = EntryKind.SPEND,
        reason: str | None = None,
        community_id: str | None = None,
    ) -> list[Entry]:
        if points <= 0:
            raise LedgerError("a debit must be positive")
        if points > self.available:
            raise InsufficientPoints(points, self.available)
        entry = Entry(
            key=key,
            kind=kind,
            at=at,
            available_delta=-points,
            reason=reason,
            community_id=community_id,
            allocations=self._consume(points),
        )
        self._apply(entry)
        return [entry]

    def restore(
        self,
        key: str,
        allocations: Sequence[Allocation],
        lot_ids: Sequence[str],
        at: datetime,
        *,
        min_life: timedelta,
        reason: str | None = None,
        community_id: str | None = None,
    ) -> list[Entry]:
        """Give a debit's points back as new available lots (see the module's policy)."""
        if len(lot_ids) != len(allocations) or not allocations:
            raise LedgerError("one new lot per allocation")
        new: list[Lot] = []
        for allocation, lot_id in zip(allocations, lot_ids, strict=True):
            if allocation.points <= 0 or lot_id in self.lots:
                raise LedgerError(f"cannot restore into lot {lot_id}")
            expires_at = allocation.expires_at
            if expires_at is not None and expires_at < at + min_life:
                expires_at = at + min_life
            lot = Lot(
                id=lot_id,
                points=allocation.points,
                remaining=allocation.points,
                state=LotState.AVAILABLE,
                earned_at=at,
                available_at=at,
                expires_at=expires_at,
                community_id=community_id,
            )  # no cause: reversing the source lot already accounts for these points
            self.lots[lot.id] = lot
            new.append(lot)
        entry = Entry(
            key=key,
            kind=EntryKind.RESTORE,
            at=at,
            available_delta=sum(lot.points for lot in new),
            community_id=community_id,
            reason=reason,
        )
        self._apply(entry)
        return [entry, *(settle for lot in new for settle in self._settle_from(lot, at))]

    def expire(self, lot_id: str, now: datetime) -> list[Entry]:
        """What is left of a due lot expires; a no-op when nothing is left or not yet due."""
        lot = self._lot(lot_id)
        if not lot.open or lot.expires_at is None or lot.expires_at > now:
            return []
        left = lot.remaining
        lot.remaining = 0
        lot.expired += left
        if lot.state is LotState.PENDING:
            entry = replace(self._lot_entry(lot, EntryKind.EXPIRE, now), pending_delta=-left)
        else:
            entry = self._lot_entry(lot, EntryKind.EXPIRE, now, available=-left)
        self._apply(entry)
        return [entry]

    def unhold(self, lot_id: str, available_at: datetime, now: datetime) -> list[Entry]:
        """A held lot gets its release time (its membership was paid): released at once if
        that time has passed. A no-op for a lot that is not held."""
        lot = self._lot(lot_id)
        if not lot.held:
            return []
        lot.available_at = available_at
        return self.release(lot_id, now)

    def reverse(
        self,
        lot_id: str,
        at: datetime,
        reason: str | None = None,
        *,
        reverses: tuple[int, str] | None = None,
    ) -> list[Entry]:
        """Undo a lot (see the module's policy); a no-op for a lot already reversed.
        ``reverses``: the id and key of the entry that credited the lot."""
        lot = self._lot(lot_id)
        if lot.state is LotState.REVERSED:
            return []
        was_pending = lot.state is LotState.PENDING
        left, owed = lot.remaining, lot.spent
        lot.remaining = 0
        lot.state = LotState.REVERSED
        available_left = 0 if was_pending else left
        clawed = min(owed, self.available - available_left)
        self._consume(clawed)  # the reversed lot is closed: only other lots pay
        entry = replace(
            self._lot_entry(lot, EntryKind.REVERSE, at, available=-(available_left + clawed)),
            pending_delta=-left if was_pending else 0,
            lifetime_delta=-lot.points,
            debt_delta=owed - clawed,
            reason=reason,
            reverses_entry_id=reverses[0] if reverses else None,
            reverses_entry_key=reverses[1] if reverses else None,
        )
        self._apply(entry)
        return [entry]

    # --------------------------------------------------------------- queries

    def open_lots(self) -> list[Lot]:
        return sorted((lot for lot in self.lots.values() if lot.open), key=Lot.fifo_key)

    def check(self) -> None:
        """Raise AssertionError unless the balances agree with the lots."""
        lots = self.lots.values()
        available = sum(lot.remaining for lot in lots if lot.state is LotState.AVAILABLE)
        pending = sum(lot.remaining for lot in lots if lot.state is LotState.PENDING)
        assert self.available == available, (self.available, available)
        assert self.pending == pending, (self.pending, pending)
        assert min(self.available, self.pending, self.lifetime, self.debt) >= 0, self
        for lot in lots:
            if lot.state is not LotState.REVERSED:
                assert lot.remaining + lot.spent + lot.expired == lot.points, lot

    # --------------------------------------------------------------- helpers

    def _lot(self, lot_id: str) -> Lot:
        lot = self.lots.get(lot_id)
        if lot is None:
            raise LedgerError(f"no lot {lot_id}")
        return lot

    def _lot_entry(self, lot: Lot, kind: EntryKind, at: datetime, available: int = 0) -> Entry:
        return Entry(
            key=f"{kind.value}:{lot.id}",  # each of these happens to a lot at most once
            kind=kind,
            at=at,
            available_delta=available,
            lot_id=lot.id,
            community_id=lot.community_id,
            cause=lot.cause,
        )

    def _consume(self, points: int) -> tuple[Allocation, ...]:
        """Take ``points`` from available lots in FIFO order; says from which."""
        taken: list[Allocation] = []
        for lot in self.open_lots():
            if points == 0:
                break
            if lot.state is not LotState.AVAILABLE:
                continue
            take = min(points, lot.remaining)
            lot.remaining -= take
            lot.spent += take
            points -= take
            taken.append(Allocation(lot.id, take, lot.expires_at))
        if points:
            raise LedgerError("lots disagree with the available balance")
        return tuple(taken)

    def _settle_from(self, lot: Lot, at: datetime) -> list[Entry]:
        """Newly available points pay the debt first."""
        pay = min(self.debt, lot.remaining) if lot.state is LotState.AVAILABLE else 0
        if pay == 0:
            return []
        lot.remaining -= pay
        lot.spent += pay
        entry = replace(self._lot_entry(lot, EntryKind.SETTLE, at, available=-pay), debt_delta=-pay)
        self._apply(entry)
        return [entry]

    def _apply(self, entry: Entry) -> None:
        self.available += entry.available_delta
        self.pending += entry.pending_delta
        self.lifetime += entry.lifetime_delta
        self.debt += entry.debt_delta


# ------------------------------------------------- points tied to a trial's membership


@dataclass(frozen=True)
class MembershipOutcome:
    """What is known of a membership whose activation earned points, merged from its
    events in whatever order they arrive: ``merge`` is commutative and idempotent.

    ``forfeited``: the membership's points are lost (a refund, or the trial ended unpaid:
    expired, left, removed or banned while a trial; a trial happens once per membership).
    ``paid_window_ends_at``: a trial member paid; when that payment's refund window ends.
    """

    forfeited: bool = False
    paid_window_ends_at: datetime | None = None

    def merge(self, other: MembershipOutcome) -> MembershipOutcome:
        paid = [at for at in (self.paid_window_ends_at, other.paid_window_ends_at) if at]
        return MembershipOutcome(self.forfeited or other.forfeited, min(paid, default=None))


class Forfeited(Enum):
    """Points that are not credited at all: their membership's points were lost."""

    FORFEITED = "forfeited"


FORFEITED = Forfeited.FORFEITED


def landing(
    outcome: MembershipOutcome, *, trial: bool, available_at: datetime | None
) -> datetime | Forfeited | None:
    """When points earned by a membership's activation become available.

    ``available_at`` is what the rule says (its pending days, the refund window). A
    forfeited membership's points are not credited (a late activation after its refund
    or its unpaid end). A trial's are held (None) until the trial is paid, then pending
    until that payment's refund window ends, whichever event came first (``unhold``
    gives a held lot the same time).
    """
    if outcome.forfeited:
        return FORFEITED
    if not trial:
        return available_at
    return outcome.paid_window_ends_at


class Settle(StrEnum):
    KEEP = "keep"
    REVERSE = "reverse"
    UNHOLD = "unhold"


def settle_held(lot: Lot, outcome: MembershipOutcome) -> Settle:
    """What a membership's news does to a lot it credited: forfeited → reversed (pending
    or not, as a refund does); paid → a held lot gets its release time; else nothing."""
    if lot.state is LotState.REVERSED:
        return Settle.KEEP
    if outcome.forfeited:
        return Settle.REVERSE
    if lot.held and outcome.paid_window_ends_at is not None:
        return Settle.UNHOLD
    return Settle.KEEP
