"""The nightly export's rules, pure: how the projection folds the platform's events (in any
order, each part of a row moved only by an event not older than the one that set it), when
a tenant's nightly export runs (02:00 on its local day), and the CSV it writes.

The projection has two rows: a member (directory fields, level, balances: three parts, each
with its own time) and a membership (status, tier, activation, term: each with its own
time). Ties go to the later arrival: onboarding and rewards key their topics by member, so
arrival is their order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The tenant's zone until gateway's tenant events say otherwise (the platform's default,
# as the gateway's tenant.created schema says consumers assume).
DEFAULT_ZONE = "Asia/Shanghai"
# When the nightly export runs, on the tenant's local clock: after the day's activity,
# before the working day (a CRM's morning import finds last night's file).
NIGHTLY_AT = time(2, 0)
BOM = "\ufeff"  # so that Excel reads the file as UTF-8 (Chinese names)
TAG_SEPARATOR = "|"  # the directory refuses `|` in a tag, so the join is reversible

HEADER = (
    "member_id",
    "display_name",
    "tags",
    "level",
    "level_name",
    "points_available",
    "points_pending",
    "points_lifetime",
    "points_debt",
    "membership_id",
    "community_id",
    "tier",
    "status",
    "activated_at",
    "expires_at",
)


def supersedes(new_at: datetime, known_at: datetime | None) -> bool:
    return known_at is None or new_at >= known_at


# --- members -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    lifetime: int
    debt: int


@dataclass(frozen=True)
class Profile:
    """member.upserted: the directory's row after the upsert; tags None: not said."""

    at: datetime
    display_name: str | None
    tags: tuple[str, ...] | None


@dataclass(frozen=True)
class Level:
    at: datetime
    level: int
    name: str


@dataclass(frozen=True)
class Wallet:
    """A ledger entry: the wallet's balances after it."""

    at: datetime
    balance: Balance


MemberFact = Profile | Level | Wallet


@dataclass(frozen=True)
class MemberState:
    display_name: str | None = None
    tags: tuple[str, ...] | None = None
    tags_at: datetime | None = None  # tags are a part of their own: an event may omit them
    profile_at: datetime | None = None
    level: int | None = None
    level_name: str | None = None
    level_at: datetime | None = None
    balance: Balance | None = None
    balance_at: datetime | None = None


def fold_member(state: MemberState | None, fact: MemberFact) -> MemberState:
    """The member after ``fact``: only the part the fact is about moves, and only if the fact
    is not older than what set that part."""
    state = state or MemberState()
    if isinstance(fact, Profile):
        if supersedes(fact.at, state.profile_at):
            state = replace(state, display_name=fact.display_name, profile_at=fact.at)
        if fact.tags is not None and supersedes(fact.at, state.tags_at):
            state = replace(state, tags=fact.tags, tags_at=fact.at)
        return state
    if isinstance(fact, Level) and supersedes(fact.at, state.level_at):
        return replace(state, level=fact.level, level_name=fact.name, level_at=fact.at)
    if isinstance(fact, Wallet) and supersedes(fact.at, state.balance_at):
        return replace(state, balance=fact.balance, balance_at=fact.at)
    return state


# --- memberships ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipFact:
    """What one membership event says; None: says nothing about that part."""

    member_id: str
    community_id: str
    at: datetime
    status: str | None = None
    tier: str | None = None
    activated: bool = False
    sets_term: bool = False
    expires_at: datetime | None = None


@dataclass(frozen=True)
class MembershipState:
    member_id: str
    community_id: str
    status: str | None = None
    status_at: datetime | None = None
    tier: str | None = None
    tier_at: datetime | None = None
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    term_at: datetime | None = None


def fold_membership(state: MembershipState | None, fact: MembershipFact) -> MembershipState:
    state = state or MembershipState(fact.member_id, fact.community_id)
    if fact.status is not None and supersedes(fact.at, state.status_at):
        state = replace(state, status=fact.status, status_at=fact.at)
    if fact.tier is not None and supersedes(fact.at, state.tier_at):
        state = replace(state, tier=fact.tier, tier_at=fact.at)
    if fact.activated and supersedes(fact.at, state.activated_at):
        state = replace(state, activated_at=fact.at)  # the latest activation
    if fact.sets_term and supersedes(fact.at, state.term_at):
        state = replace(state, expires_at=fact.expires_at, term_at=fact.at)
    return state


# --- when ----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """The zone of an IANA name; unknown or missing: the default (a producer's data is never
    trusted to name a zone this machine knows)."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(DEFAULT_ZONE)


def next_run(now: datetime, zone_name: str) -> tuple[date, datetime]:
    """The next nightly run strictly after ``now``: its local day and instant (UTC-aware).
    02:00 skipped by a DST change runs at the instant the wall clock reaches it (zoneinfo's
    fold rule); a repeated 02:00 runs once, at its first occurrence."""
    tz = zone(zone_name)
    local = now.astimezone(tz)
    day = local.date()
    while True:
        at = datetime.combine(day, NIGHTLY_AT, tzinfo=tz)
        at = at.astimezone(UTC)  # a nonexistent wall time becomes the instant after the gap
        if at > now:
            return day, at
        day += timedelta(days=1)


def timer_key(tenant_id: str, day: date) -> str:
    """One nightly timer per tenant and local day (a fired timer row is not re-armed)."""
    return f"{tenant_id}:{day.isoformat()}"


def filename(kind: str, local: datetime) -> str:
    """``members-2026-12-05.csv`` (nightly: the local day it ran) or with the time
    (``members-2026-12-05-143000.csv``, on request)."""
    stamp = local.strftime("%Y-%m-%d") if kind == "nightly" else local.strftime("%Y-%m-%d-%H%M%S")
    return f"members-{stamp}.csv"


# --- the CSV -------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """None empty; text a spreadsheet would run as a formula (a name ``=HYPERLINK(...)``)
    kept as text with a leading apostrophe, as insights' CSV does."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _when(at: datetime | None, tz: ZoneInfo) -> str | None:
    """An instant on the tenant's clock, with its offset (2026-12-01T16:00:00+08:00)."""
    return None if at is None else at.astimezone(tz).isoformat()


def rows(
    member_id: str,
    member: MemberState,
    memberships: Sequence[tuple[str, MembershipState]],
    tz: ZoneInfo,
) -> list[tuple[Any, ...]]:
    """One row per membership (``(membership_id, state)``, the member's columns repeated),
    by community then membership; a member without any membership: one row with the
    membership's columns empty."""
    balance = member.balance
    amounts = (
        (balance.available, balance.pending, balance.lifetime, balance.debt)
        if balance is not None
        else (None, None, None, None)
    )
    tags = TAG_SEPARATOR.join(member.tags) if member.tags else None
    head = (member_id, member.display_name, tags, member.level, member.level_name, *amounts)
    if not memberships:
        return [(*head, None, None, None, None, None, None)]
    ordered = sorted(memberships, key=lambda pair: (pair[1].community_id, pair[0]))
    return [
        (
            *head,
            membership_id,
            m.community_id,
            m.tier,
            m.status,
            _when(m.activated_at, tz),
            _when(m.expires_at, tz),
        )
        for membership_id, m in ordered
    ]


def csv_text(lines: Iterable[Sequence[Any]], *, header: bool = False) -> str:
    """CSV (RFC 4180 line ends) of ``lines``; ``header``: the BOM and the column names first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        buffer.write(BOM)
        writer.writerow(HEADER)
    for line in lines:
        writer.writerow([cell(value) for value in line])
    return buffer.getvalue()
