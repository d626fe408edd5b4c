"""Writing the ledger: wallets loaded for change, and everything a change writes.

A change to a wallet writes its lots (and their release and expiry timers), its
entries, the leaderboard rows, the wallet itself (conditional on its version) and
one event per entry (plus ``level.changed``), all in the caller's transaction.
``Ledger`` records changes and writes them together, so that a consumer batch
costs a statement per table rather than a dozen per credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from rewards import events
from rewards.leaderboards.domain import Score, ScoreKey, scores
from rewards.leaderboards.repository import BoardRepository
from rewards.levels.domain import LevelScheme
from rewards.levels.repository import LevelRepository
from rewards.notices.repository import NoticeRepository
from rewards.points.domain import Entry, Lot, LotState, Wallet
from rewards.points.repository import Balances, PointsRepository, WalletRow
from rewards.zones.domain import Zones, day_bounds, local_day
from rewards.zones.service import zones_of
from servicekit import timers
from servicekit.db import insert_many
from servicekit.events import Event
from servicekit.outbox import add_events
from servicekit.tables import timers as timer_rows
from servicekit.types import utcnow

RELEASE_TIMER = "rewards.release"
EXPIRE_TIMER = "rewards.expire"
# Announces points about to expire: one timer per wallet and local day of expiry (the
# tenant's zone), so the lots of a member expiring on the same day make one
# points.will_expire.
NOTICE_TIMER = "rewards.will_expire"
DEFAULT_NOTICE_DAYS = 7


@dataclass
class OpenWallet:
    row: WalletRow
    wallet: Wallet
    loaded: dict[str, Lot]  # the lots as read, to know which ones changed

    @property
    def member_id(self) -> str:
        return self.row.member_id


class Ledger:
    """Loads wallets for change, records what the domain did to them, writes it at once.

    ``save`` records and writes one change (the API, timers, reversals). A consumer
    batch opens every wallet it needs in a few statements (``open_many``), records
    each event's change in turn, so that every event carries the balances and the
    level change of its own moment, exactly as one event at a time would, and
    writes them all with one ``flush``: a statement per table, not per credit.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = PointsRepository(session)
        self._level_repo = LevelRepository(session)
        self._notice_repo = NoticeRepository(session)
        self._board_repo = BoardRepository(session)
        self._schemes: dict[str, LevelScheme] = {}
        self._zones: dict[str, Zones] = {}
        self._notice_days: dict[str, int] = {}
        self._changed: dict[int, OpenWallet] = {}
        self._levels: dict[int, int] = {}  # wallet id → level as last recorded
        self._entries: list[tuple[str, int, Entry]] = []
        self._scores: list[tuple[str, str, ScoreKey, Score]] = []
        self._events: list[Event] = []

    async def open(self, tenant_id: str, member_id: str, *, create: bool) -> OpenWallet | None:
        row = await self.repo.wallet(tenant_id, member_id, lock=True)
        if row is None and create:
            await self.repo.create_wallet(tenant_id, member_id, utcnow())
            row = await self.repo.wallet(tenant_id, member_id, lock=True)
        return await self._load(row) if row else None

    async def open_by_id(self, wallet_id: int, lot_ids: Sequence[str] = ()) -> OpenWallet:
        return await self._load(await self.repo.wallet_by_id(wallet_id), lot_ids)

    async def open_many(self, tenant_id: str, member_ids: Sequence[str]) -> dict[str, OpenWallet]:
        """Create the missing wallets, then lock and load them all: three statements."""
        await self.repo.create_wallets(tenant_id, member_ids, utcnow())
        rows = await self.repo.wallets_locked(tenant_id, member_ids)
        lots = await self.repo.open_lots_many([row.id for row in rows])
        return {row.member_id: _opened(row, lots[row.id]) for row in rows}

    async def _load(self, row: WalletRow, lot_ids: Sequence[str] = ()) -> OpenWallet:
        return _opened(row, await self.repo.open_lots(row.id, also=lot_ids))

    async def scheme(self, tenant_id: str) -> LevelScheme:
        if tenant_id not in self._schemes:
            self._schemes[tenant_id] = await self._level_repo.level_scheme(tenant_id)
        return self._schemes[tenant_id]

    async def zones(self, tenant_id: str) -> Zones:
        """The tenant's zones (whose days leaderboards, caps and expiry count in), read at
        most once per ledger and usually from the process' cache."""
        if tenant_id not in self._zones:
            self._zones[tenant_id] = await zones_of(self.session, tenant_id)
        return self._zones[tenant_id]

    async def notice_days(self, tenant_id: str) -> int:
        if tenant_id not in self._notice_days:
            days = await self._notice_repo.notice_days(tenant_id)
            self._notice_days[tenant_id] = DEFAULT_NOTICE_DAYS if days is None else days
        return self._notice_days[tenant_id]

    async def save(self, opened: OpenWallet, new: Sequence[Entry]) -> None:
        await self.record(opened, new)
        await self.flush()

    async def record(self, opened: OpenWallet, new: Sequence[Entry]) -> None:
        """Remember a change and its events, with the balances as they are now."""
        if not new:
            if opened.wallet.lots != opened.loaded:  # e.g. a held lot got its release time
                self._changed[opened.row.id] = opened
            return
        row, wallet = opened.row, opened.wallet
        scheme = await self.scheme(row.tenant_id)
        after = _balances(wallet, scheme)
        self._changed[row.id] = opened
        self._entries += [(row.tenant_id, row.id, entry) for entry in new]
        self._scores += _scores_of(opened, new, await self.zones(row.tenant_id))
        self._events += [
            events.entry_event(row.tenant_id, row.member_id, entry, after) for entry in new
        ]
        previous = self._levels.get(row.id, row.level)
        if after.level != previous:
            progress = scheme.progress(wallet.lifetime)
            self._events.append(
                events.level_changed(
                    row.tenant_id,
                    row.member_id,
                    previous,
                    progress,
                    wallet.lifetime,
                    utcnow().isoformat(),
                )
            )
        self._levels[row.id] = after.level

    async def flush(self) -> None:
        """Write every recorded change: lots and their timers, entries, leaderboard rows,
        wallets (each conditional on its version), then the events."""
        if not self._changed:
            return
        changed = list(self._changed.values())
        await self._save_lots(changed)
        await self.repo.insert_entries(self._entries)
        await self._board_repo.add_scores(self._scores)
        afters = [(o, _balances(o.wallet, await self.scheme(o.row.tenant_id))) for o in changed]
        await self.repo.save_wallets([(o.row, after) for o, after in afters], utcnow())
        await add_events(self.session, self._events)
        for opened, after in afters:  # what is stored now, should the wallet change again
            opened.row = replace(opened.row, **asdict(after), version=opened.row.version + 1)
            opened.loaded = {lot.id: replace(lot) for lot in opened.wallet.lots.values()}
        self._changed, self._levels = {}, {}
        self._entries, self._scores, self._events = [], [], []

    async def _save_lots(self, changed: Sequence[OpenWallet]) -> None:
        new: list[tuple[str, int, Lot]] = []
        due: list[dict[str, Any]] = []
        notices: dict[str, dict[str, Any]] = {}
        reversed_lots: list[tuple[WalletRow, Lot]] = []
        now = utcnow()
        for opened in changed:
            row = opened.row
            for lot in opened.wallet.lots.values():
                before = opened.loaded.get(lot.id)
                if before is None:
                    new.append((row.tenant_id, row.id, lot))
                    due += _timers_of(row, lot)
                    if lot.expires_at is not None:
                        days = await self.notice_days(row.tenant_id)
                        tz = (await self.zones(row.tenant_id)).of(None)  # wallets: tenant-wide
                        notice = _notice_of(row, lot, days, now, tz)
                        if notice is not None:
                            _keep_earliest(notices, notice)
                elif before != lot:
                    await self.repo.update_lot(lot)
                    if before.held and lot.state is LotState.PENDING and not lot.held:
                        due += _timers_of(row, lot, release_only=True)  # unheld, still pending
                    if lot.state is LotState.REVERSED:
                        await timers.cancel(self.session, RELEASE_TIMER, lot.id)
                        await timers.cancel(self.session, EXPIRE_TIMER, lot.id)
                        reversed_lots.append((row, lot))
        # After every lot is written, so that the check sees what the day still holds.
        for row, lot in reversed_lots:
            await self._cancel_notice_if_idle(row, lot, now)
        await self.repo.insert_lots(new)
        if due:
            # New lots have new ids, so these are new timers: the rows ``timers.schedule``
            # would insert, in one statement.
            await insert_many(self.session, timer_rows, due)
        await self._notice_repo.schedule_notices(list(notices.values()))

    async def _cancel_notice_if_idle(self, row: WalletRow, lot: Lot, now: datetime) -> None:
        """A reversed lot is never announced; its day's timer goes when no other lot of
        the wallet expiring that day is left to announce."""
        if lot.expires_at is None:
            return
        tz = (await self.zones(row.tenant_id)).of(None)
        day = local_day(lot.expires_at, tz)
        first, end = day_bounds(day, tz)
        if not await self._notice_repo.lots_to_announce(row.id, first, end, now):
            await timers.cancel(self.session, NOTICE_TIMER, notice_key(row.id, day))


def _opened(row: WalletRow, lots: Sequence[Lot]) -> OpenWallet:
    wallet = Wallet(
        available=row.available,
        pending=row.pending,
        lifetime=row.lifetime,
        debt=row.debt,
        lots={lot.id: lot for lot in lots},
    )
    return OpenWallet(row, wallet, {lot.id: replace(lot) for lot in lots})


def _balances(wallet: Wallet, scheme: LevelScheme) -> Balances:
    return Balances(
        wallet.available,
        wallet.pending,
        wallet.lifetime,
        wallet.debt,
        scheme.level_of(wallet.lifetime),
    )


def _scores_of(
    opened: OpenWallet, new: Sequence[Entry], zones: Zones
) -> list[tuple[str, str, ScoreKey, Score]]:
    """Leaderboard rows, in the entries' transaction: a board never disagrees with the
    ledger. A reversal counts on the day its lot was earned (each scope's local day)."""
    lots = opened.wallet.lots

    def earned_at(entry: Entry) -> datetime:
        lot = lots.get(entry.lot_id) if entry.lot_id else None
        return lot.earned_at if lot else entry.at

    row = opened.row
    return [(row.tenant_id, row.member_id, k, v) for k, v in scores(new, earned_at, zones).items()]


def notice_key(wallet_id: int, day: date) -> str:
    return f"{wallet_id}:{day.isoformat()}"


def _notice_of(
    row: WalletRow, lot: Lot, days: int, now: datetime, tz: ZoneInfo
) -> dict[str, Any] | None:
    """The announcement timer a new lot needs: ``days`` before it expires, if that is
    still ahead (0 days: the tenant announces nothing). One per wallet and local day of
    expiry in the tenant's zone ``tz``, which the payload keeps: the day's bounds when
    it fires are the ones it was armed for."""
    if lot.expires_at is None or days <= 0:
        return None
    at = lot.expires_at - timedelta(days=days)
    if at <= now:
        return None
    day = local_day(lot.expires_at, tz)
    payload = {
        "tenant_id": row.tenant_id,
        "wallet_id": row.id,
        "day": day.isoformat(),
        "zone": tz.key,
    }
    key = notice_key(row.id, day)
    return {"kind": NOTICE_TIMER, "key": key, "due_at": at, "payload": payload, "attempts": 0}


def _keep_earliest(notices: dict[str, dict[str, Any]], notice: dict[str, Any]) -> None:
    found = notices.get(notice["key"])
    if found is None or notice["due_at"] < found["due_at"]:
        notices[notice["key"]] = notice


def _timers_of(row: WalletRow, lot: Lot, *, release_only: bool = False) -> list[dict[str, Any]]:
    payload = {"tenant_id": row.tenant_id, "wallet_id": row.id, "lot_id": lot.id}
    due: list[tuple[str, datetime]] = []
    if lot.state is LotState.PENDING and lot.available_at is not None:  # held: none yet
        due.append((RELEASE_TIMER, lot.available_at))
    if lot.expires_at is not None and not release_only:
        due.append((EXPIRE_TIMER, lot.expires_at))
    return [
        {"kind": kind, "key": lot.id, "due_at": at, "payload": payload, "attempts": 0}
        for kind, at in due
    ]
