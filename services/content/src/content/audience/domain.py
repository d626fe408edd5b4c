"""Who may see a post and who may speak: pure rules over content's own projection of
onboarding's memberships (status, tier, group, mute) and rewards' levels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TENANT_WIDE = "*"  # the post_communities row of a tenant-wide post


class Status(StrEnum):
    """A membership's lifecycle. A mute is not a status here: it is kept beside it
    (``muted_until``, ``rules_muted``), so a renewal or a reinstatement never clears it."""

    ACTIVE = "active"
    EXPIRED = "expired"
    LEFT = "left"
    REMOVED = "removed"
    REFUNDED = "refunded"
    BANNED = "banned"


# A muted member keeps their seat (and reads); every other ending takes the seat away.
SEATED = frozenset({Status.ACTIVE})


class GroupKind(StrEnum):
    TRIAL = "trial"
    CORE = "core"
    INTEREST = "interest"
    LOCAL = "local"


class Tier(StrEnum):
    TRIAL = "trial"
    CORE = "core"


class CommunityRole(StrEnum):
    """Roles onboarding grants inside a community (role.granted)."""

    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    GUEST_SPEAKER = "guest_speaker"  # 嘉宾
    REGIONAL_LEADER = "regional_leader"  # 分舵舵主
    MENTOR = "mentor"
    TITLE = "title"  # 首席…官 and other titles


@dataclass(frozen=True)
class Seat:
    """One membership of the viewer, as the projection knows it."""

    community_id: str
    status: Status
    tier: str | None = None
    group_kind: str | None = None
    roles: frozenset[str] = frozenset()
    muted_until: datetime | None = None
    rules_muted: bool = False


@dataclass(frozen=True)
class Viewer:
    member_id: str
    seats: tuple[Seat, ...] = ()
    level: int = 1


@dataclass(frozen=True)
class Audience:
    """Who a post is for. Empty sets mean "no restriction on this axis"; the axes combine
    with AND, the values inside one axis with OR."""

    tenant_wide: bool = False
    community_ids: frozenset[str] = frozenset()
    group_kinds: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    min_level: int | None = None
    roles: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, object]:
        return {
            "tenant_wide": self.tenant_wide,
            "community_ids": sorted(self.community_ids),
            "group_kinds": sorted(self.group_kinds),
            "tiers": sorted(self.tiers),
            "min_level": self.min_level,
            "roles": sorted(self.roles),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Audience:
        def strings(name: str) -> frozenset[str]:
            value = data.get(name) or []
            assert isinstance(value, list)
            return frozenset(str(item) for item in value)

        level = data.get("min_level")
        return cls(
            tenant_wide=bool(data.get("tenant_wide")),
            community_ids=strings("community_ids"),
            group_kinds=strings("group_kinds"),
            tiers=strings("tiers"),
            min_level=int(level) if isinstance(level, int) else None,
            roles=strings("roles"),
        )

    def communities(self) -> frozenset[str]:
        """The post_communities rows the post is stored under."""
        return frozenset({TENANT_WIDE}) if self.tenant_wide else self.community_ids


def seat_qualifies(audience: Audience, seat: Seat) -> bool:
    if seat.status not in SEATED:
        return False
    if not audience.tenant_wide and seat.community_id not in audience.community_ids:
        return False
    if audience.group_kinds and seat.group_kind not in audience.group_kinds:
        return False
    if audience.tiers and seat.tier not in audience.tiers:
        return False
    return not audience.roles or not audience.roles.isdisjoint(seat.roles)


def may_see(audience: Audience, viewer: Viewer) -> bool:
    """A member sees a post when one of their seats qualifies and their level is enough."""
    if audience.min_level is not None and viewer.level < audience.min_level:
        return False
    return any(seat_qualifies(audience, seat) for seat in viewer.seats)


def qualifying_seats(audience: Audience, viewer: Viewer) -> list[Seat]:
    if audience.min_level is not None and viewer.level < audience.min_level:
        return []
    return [seat for seat in viewer.seats if seat_qualifies(audience, seat)]


class Silenced(StrEnum):
    """Why a member may not post or comment in a community."""

    NOT_A_MEMBER = "not-a-member"
    MUTED = "muted"
    BANNED = "banned"


def may_speak(seat: Seat | None, now: datetime) -> Silenced | None:
    """None when the member may post or comment through this seat.

    A sanction mute ends at ``muted_until`` even if onboarding's ``unmuted`` event has not
    arrived yet; a rules mute lasts until the member accepts the rules (unmuted event).
    """
    if seat is None:
        return Silenced.NOT_A_MEMBER
    if seat.status is Status.BANNED:
        return Silenced.BANNED
    if seat.status not in SEATED:
        return Silenced.NOT_A_MEMBER
    if seat.rules_muted or (seat.muted_until is not None and seat.muted_until > now):
        return Silenced.MUTED
    return None


def best_speaking_seat(seats: Iterable[Seat], now: datetime) -> tuple[Seat | None, Silenced]:
    """The first seat the member may speak through, or the reason none allows it (the most
    telling one: banned over muted over not a member)."""
    reasons: list[Silenced] = []
    for seat in seats:
        refused = may_speak(seat, now)
        if refused is None:
            return seat, Silenced.NOT_A_MEMBER
        reasons.append(refused)
    for reason in (Silenced.BANNED, Silenced.MUTED):
        if reason in reasons:
            return None, reason
    return None, Silenced.NOT_A_MEMBER


# --- the projection's own rules --------------------------------------------------------


# The status time of a membership known only from events that say nothing of its status.
NO_STATUS_YET = datetime(1970, 1, 1, tzinfo=UTC)


def supersedes(new_at: datetime, known_at: datetime | None) -> bool:
    """An event applies when nothing newer was applied: ties go to the later arrival (the
    producer's order, since onboarding keys by member)."""
    return known_at is None or new_at >= known_at


@dataclass(frozen=True)
class Level:
    """A member's level as rewards last reported it, and when it changed."""

    level: int
    changed_at: datetime


def fold_level(known: Level | None, reported: Level) -> Level:
    """The level after a report: the report, unless a newer one is known."""
    return reported if known is None or supersedes(reported.changed_at, known.changed_at) else known


@dataclass(frozen=True)
class MembershipState:
    """The projection's row of one membership. Its status, its placement (tier and group)
    and its mute each remember the time of the event that set them."""

    member_id: str
    community_id: str
    status: Status
    status_at: datetime
    tier: str | None = None
    group_id: str | None = None
    placed_at: datetime | None = None
    muted_until: datetime | None = None
    rules_muted: bool = False
    mute_at: datetime | None = None


@dataclass(frozen=True)
class Placement:
    tier: str | None  # None: the event does not say; the known tier stays
    group_id: str | None


@dataclass(frozen=True)
class Mute:
    until: datetime | None
    rules: bool


@dataclass(frozen=True)
class MembershipFact:
    """What one onboarding membership event says, at the time it happened."""

    member_id: str
    community_id: str
    at: datetime
    status: Status | None = None
    placement: Placement | None = None
    mute: Mute | None = None


def fold(state: MembershipState | None, fact: MembershipFact) -> MembershipState:
    """The state after ``fact``: each part moves only if the fact is not older than what
    set it, so events applied in any order end in the same state."""
    if state is None:
        # First word of this membership: a mute or a tier change can arrive before the
        # activation; the member is seated until a status event, of any time, says
        # otherwise (a fact without a status sets no status time: an older "left" still
        # applies when it arrives).
        state = MembershipState(
            fact.member_id,
            fact.community_id,
            fact.status or Status.ACTIVE,
            fact.at if fact.status is not None else NO_STATUS_YET,
        )
    status, status_at = state.status, state.status_at
    if fact.status is not None and supersedes(fact.at, state.status_at):
        status, status_at = fact.status, fact.at
    tier, group_id, placed_at = state.tier, state.group_id, state.placed_at
    if fact.placement is not None and supersedes(fact.at, state.placed_at):
        tier = fact.placement.tier or tier
        group_id, placed_at = fact.placement.group_id, fact.at
    muted_until, rules_muted, mute_at = state.muted_until, state.rules_muted, state.mute_at
    if fact.mute is not None and supersedes(fact.at, state.mute_at):
        muted_until, rules_muted, mute_at = fact.mute.until, fact.mute.rules, fact.at
    return MembershipState(
        state.member_id,
        state.community_id,
        status,
        status_at,
        tier,
        group_id,
        placed_at,
        muted_until,
        rules_muted,
        mute_at,
    )


def zone_of(name: str | None) -> ZoneInfo | None:
    """A community's IANA zone by name, or None for a missing or unknown one."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
