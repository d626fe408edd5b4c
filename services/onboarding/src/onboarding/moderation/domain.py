"""Moderation rules: the ladder (禁言 → 封号), strikes, and the reasons a member is muted.

Ladder default: warning → mute 1 day → mute 7 days → mute 15 days → permanent ban. Strikes
decay: one older than the decay period no longer counts, so a member who behaved for a long
time starts again near the bottom of the ladder.

Mute reasons: a sanction mute running until a time, and rules (群规) not accepted after the
grace period. A seated member is muted while any reason holds and returns to the status their
tier gives when none does; each reason is cleared only by its own cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from onboarding.membership.states import SEATED, Status

TRIAL_TIER = "trial"


class SanctionKind(StrEnum):
    WARNING = "warning"
    MUTE = "mute"
    REMOVAL = "removal"
    BAN = "ban"


class SanctionStatus(StrEnum):
    ACTIVE = "active"  # in force (a warning stays on record as active)
    EXPIRED = "expired"  # a mute that ran its time
    LIFTED = "lifted"  # ended early by a moderator; still a strike
    OVERTURNED = "overturned"  # undone on appeal; no longer a strike


def counts_as_strike(status: SanctionStatus) -> bool:
    return status is not SanctionStatus.OVERTURNED


class ReportCategory(StrEnum):
    SPAM = "spam"  # spam and ads (广告)
    ABUSE = "abuse"
    VULGAR = "vulgar"
    ILLEGAL = "illegal"
    RUMOR = "rumor"
    OTHER = "other"


class ReportTarget(StrEnum):
    MEMBER = "member"
    CONTENT = "content"  # an id of the content service (a post, a comment...)


class ReportStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"  # a sanction followed


class AppealStatus(StrEnum):
    PENDING = "pending"
    UPHELD = "upheld"
    OVERTURNED = "overturned"


@dataclass(frozen=True)
class Step:
    kind: SanctionKind
    duration: timedelta | None = None  # mutes only; a ban is permanent

    def __post_init__(self) -> None:
        if (self.kind is SanctionKind.MUTE) != (self.duration is not None):
            raise ValueError("a mute has a duration; warnings and bans have none")
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("a mute lasts a positive time")


@dataclass(frozen=True)
class Ladder:
    steps: Sequence[Step]
    strike_decay: timedelta = timedelta(days=90)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a ladder has at least one step")
        if self.strike_decay <= timedelta(0):
            raise ValueError("strikes decay after a positive time")

    def active_strikes(self, strikes: Iterable[datetime], now: datetime) -> int:
        return sum(1 for at in strikes if now - self.strike_decay < at <= now)

    def next_index(self, strikes: Iterable[datetime], now: datetime) -> int:
        """The index of the step for a new strike at ``now``: past the top, the top again."""
        return min(self.active_strikes(strikes, now), len(self.steps) - 1)

    def next_sanction(self, strikes: Iterable[datetime], now: datetime) -> Step:
        """The sanction for a new strike at ``now``, given the member's earlier strikes."""
        return self.steps[self.next_index(strikes, now)]


DEFAULT_LADDER = Ladder(
    steps=(
        Step(SanctionKind.WARNING),
        Step(SanctionKind.MUTE, timedelta(days=1)),
        Step(SanctionKind.MUTE, timedelta(days=7)),
        Step(SanctionKind.MUTE, timedelta(days=15)),
        Step(SanctionKind.BAN),
    )
)


# ---------------------------------------------------------------- automatic strikes

# content's auto-moderation (keyword, link and flood rules) reports strikes by events. A
# burst of refused posts in a few minutes is one offence: one automatic strike per member
# and community within the cooldown.
AUTO_STRIKE_COOLDOWN = timedelta(minutes=10)


def auto_strike_due(
    previous: datetime | None, at: datetime, cooldown: timedelta = AUTO_STRIKE_COOLDOWN
) -> bool:
    """Does a strike found at ``at`` count, given the member's last automatic strike in the
    community (``previous``)? Not within the cooldown after it, nor before it (a late
    event of the burst it already covered)."""
    return previous is None or at - previous >= cooldown


# ---------------------------------------------------------------- mute reasons


@dataclass(frozen=True)
class MuteReasons:
    """Why a member is muted. ``until``: the end of the longest running sanction mute."""

    until: datetime | None = None
    rules: bool = False  # the current rules were not accepted within the grace period

    def sanction_holds(self, now: datetime) -> bool:
        return self.until is not None and self.until > now

    def holds(self, now: datetime) -> bool:
        return self.rules or self.sanction_holds(now)

    def muted_until(self, end: datetime) -> MuteReasons:
        """A new sanction mute: the longer of the running one and the new one wins."""
        longest = end if self.until is None else max(self.until, end)
        return replace(self, until=longest)

    def sanction_ended(self, remaining: datetime | None) -> MuteReasons:
        """A sanction mute ended (timer, lift, overturn): ``remaining`` is the end of the
        longest other running mute. The rules reason is untouched."""
        return replace(self, until=remaining)

    def rules_missed(self) -> MuteReasons:
        return replace(self, rules=True)

    def rules_accepted(self) -> MuteReasons:
        """Accepting the rules clears their reason only: a sanction mute keeps running."""
        return replace(self, rules=False)


def unmuted_status(tier: str) -> Status:
    """The status a seated, unmuted member has: trial members stay in their trial."""
    return Status.TRIAL if tier == TRIAL_TIER else Status.ACTIVE


def resting_status(tier: str, reasons: MuteReasons, now: datetime) -> Status:
    """Where a seated member belongs: muted iff some reason holds."""
    return Status.MUTED if reasons.holds(now) else unmuted_status(tier)


def restored_status(
    previous: Status,
    tier: str,
    term_ends_at: datetime | None,
    reasons: MuteReasons,
    now: datetime,
) -> Status:
    """The status an overturned removal or ban gives back: the one before, except that a
    term which ended meanwhile is expired and the mute reasons are applied afresh."""
    if previous not in SEATED:
        return previous
    if term_ends_at is not None and term_ends_at <= now:
        return Status.EXPIRED
    return resting_status(tier, reasons, now)
