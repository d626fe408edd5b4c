"""The membership state machine: which status may follow which, and nothing else."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING_APPLICATION = "pending_application"
    PENDING_PAYMENT = "pending_payment"
    TRIAL = "trial"
    ACTIVE = "active"
    MUTED = "muted"
    EXPIRED = "expired"
    LEFT = "left"
    REMOVED = "removed"
    BANNED = "banned"
    REFUNDED = "refunded"


S = Status

# Where a membership may start (its first status when the row is created).
INITIAL = frozenset({S.PENDING_APPLICATION, S.PENDING_PAYMENT, S.TRIAL, S.ACTIVE})

# Statuses that hold a seat in a group (count against its capacity).
SEATED = frozenset({S.TRIAL, S.ACTIVE, S.MUTED})

# A membership that ended (left, expired, removed, refunded) may start again the way a new one
# would, or be banned (a member who left after misbehaving is kept out). A banned member cannot
# simply re-join: a ban ends by being lifted (→ left) or overturned on appeal (→ the status it
# had before, which may be any other).
_RESTART = frozenset({S.PENDING_APPLICATION, S.PENDING_PAYMENT, S.TRIAL, S.ACTIVE})
_ENDED_NEXT = _RESTART | {S.BANNED}
_UNBANNED = _RESTART | {S.LEFT, S.EXPIRED, S.REMOVED, S.REFUNDED}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.PENDING_APPLICATION: frozenset(
        {S.PENDING_PAYMENT, S.TRIAL, S.ACTIVE, S.LEFT, S.REMOVED, S.BANNED}
    ),
    S.PENDING_PAYMENT: frozenset({S.TRIAL, S.ACTIVE, S.LEFT, S.REMOVED, S.BANNED}),
    S.TRIAL: frozenset(
        {S.ACTIVE, S.MUTED, S.EXPIRED, S.LEFT, S.REMOVED, S.BANNED, S.PENDING_PAYMENT}
    ),
    S.ACTIVE: frozenset({S.MUTED, S.EXPIRED, S.LEFT, S.REMOVED, S.BANNED, S.REFUNDED}),
    # A muted member returns to the status their tier gives (trial or active).
    S.MUTED: frozenset({S.ACTIVE, S.TRIAL, S.EXPIRED, S.LEFT, S.REMOVED, S.BANNED, S.REFUNDED}),
    S.EXPIRED: _ENDED_NEXT,
    S.LEFT: _ENDED_NEXT,
    S.REMOVED: _ENDED_NEXT,
    S.REFUNDED: _ENDED_NEXT,
    S.BANNED: _UNBANNED,
}


class IllegalTransition(ValueError):
    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"a membership cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def transition(current: Status, target: Status) -> Status:
    """The new status, or IllegalTransition when the machine does not allow the move."""
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return target


def holds_seat(status: Status) -> bool:
    return status in SEATED
