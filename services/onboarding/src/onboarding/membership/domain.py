"""The Membership aggregate: how a member's place in a community changes, as pure functions.

Where is a paid join decided? ``enter`` (a join, an approval, an invite) and ``pay`` (a
confirmed payment). Refunds are ``refund``, the end of a term ``expire``, leaving ``leave``.
Each takes the membership as plain values (``None`` fields of a never-seen member are
``NEW``) and returns a ``Change``: the state before and after, and what happened, which the
service saves and turns into seats, timers and events. Nothing here reads a clock or a
database; every rule that crosses the state machine (``memberships.TRANSITIONS``) goes
through it, so an illegal move is refused here, whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from onboarding.membership.states import (
    INITIAL,
    IllegalTransition,
    Status,
    holds_seat,
    transition,
)
from onboarding.payments.domain import PaidPeriod, PaidTerms, TermOver, paid_period, trial_ends_at
from onboarding.payments.domain import refund_allowed as within_refund_window

TIER_TRIAL = "trial"
TIER_CORE = "core"

ENDED = frozenset({Status.EXPIRED, Status.LEFT, Status.REMOVED, Status.REFUNDED})


class Refused(Exception):
    """The aggregate refuses the command; ``status``/``slug`` say how the API answers it."""

    def __init__(self, status: int, slug: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail


@dataclass(frozen=True)
class Membership:
    """What the rules need of a membership. ``status`` None: the member never joined."""

    status: Status | None = None
    tier: str = TIER_CORE
    trial_used: bool = False
    activated_at: datetime | None = None
    term_ends_at: datetime | None = None
    refund_window_ends_at: datetime | None = None

    @property
    def seated(self) -> bool:
        return self.status is not None and holds_seat(self.status)


NEW = Membership()


class Outcome(StrEnum):
    UNCHANGED = "unchanged"  # already in, or already on the way in: a no-op
    ARRIVED = "arrived"  # into trial or active from outside: seat, mentor, welcome
    AWAITING_PAYMENT = "awaiting_payment"
    UPGRADED = "upgraded"  # trial → paid while seated: a tier change, same seat
    RENEWED = "renewed"
    REFUNDED = "refunded"
    EXPIRED = "expired"
    LEFT = "left"


@dataclass(frozen=True)
class Change:
    before: Membership
    after: Membership
    outcome: Outcome
    period: PaidPeriod | None = None  # what a payment bought

    @property
    def frees_seat(self) -> bool:
        return self.before.seated and not self.after.seated

    @property
    def status_changed(self) -> bool:
        return self.before.status != self.after.status


def may_start(current: Membership) -> bool:
    """May a way in (re)start this membership? False: already in or on the way in (a join
    is then a no-op). A banned member is refused."""
    if current.status == Status.BANNED:
        raise Refused(403, "banned", "Banned", "you are banned from this community")
    return current.status is None or current.status in ENDED


def enter(current: Membership, terms: PaidTerms | None, now: datetime) -> Change:
    """Past every gate: a free community activates; a paid one starts the free trial if the
    member never had one, else waits for the payment."""
    if terms is None:
        return _activate(current, TIER_CORE, now, term_ends_at=None, refund_ends_at=None)
    trial_end = trial_ends_at(terms, now)
    if trial_end is not None and not current.trial_used:
        trial = replace(current, trial_used=True)
        change = _activate(trial, TIER_TRIAL, now, term_ends_at=trial_end, refund_ends_at=None)
        return replace(change, before=current)
    if current.status == Status.PENDING_PAYMENT:
        return Change(current, current, Outcome.UNCHANGED)
    after = replace(current, status=_moved(current, Status.PENDING_PAYMENT))
    return Change(current, after, Outcome.AWAITING_PAYMENT)


def pay(current: Membership, terms: PaidTerms, now: datetime) -> Change:
    """A confirmed payment: renews a paid membership from its current end (never losing
    days), or activates any other (a trial, one awaiting payment, one that ended)."""
    if current.status in (Status.BANNED, Status.PENDING_APPLICATION):
        raise Refused(
            409,
            "cannot-activate",
            "Cannot activate",
            f"the membership is {current.status}: payment refused",
        )
    renewing = current.status == Status.ACTIVE or (
        current.status == Status.MUTED and current.tier == TIER_CORE
    )
    try:
        period = paid_period(terms, now, current.term_ends_at if renewing else None)
    except TermOver as error:
        raise Refused(422, "term-over", "Term over", str(error)) from error
    if renewing:
        after = replace(
            current,
            term_ends_at=period.term_ends_at,
            refund_window_ends_at=period.refund_window_ends_at,
        )
        return Change(current, after, Outcome.RENEWED, period)
    change = _activate(
        current,
        TIER_CORE,
        now,
        term_ends_at=period.term_ends_at,
        refund_ends_at=period.refund_window_ends_at,
    )
    return replace(change, period=period)


def refund(current: Membership, payment_window_ends_at: datetime | None, now: datetime) -> Change:
    """A refund revokes the membership, only inside the latest payment's window."""
    if not within_refund_window(payment_window_ends_at, now):
        ended = payment_window_ends_at.isoformat() if payment_window_ends_at else "never"
        raise Refused(
            409,
            "refund-window-closed",
            "Refund window closed",
            f"refunds were possible until {ended}",
        )
    after = replace(current, status=_moved(current, Status.REFUNDED), refund_window_ends_at=None)
    return Change(current, after, Outcome.REFUNDED)


def expire(current: Membership, due_at: datetime) -> Change:
    """The expiry timer fired: the trial or term ends, unless it was extended (or the
    member left) after the timer was armed."""
    extended = current.term_ends_at is None or current.term_ends_at > due_at
    if not current.seated or extended:
        return Change(current, current, Outcome.UNCHANGED)
    after = replace(current, status=_moved(current, Status.EXPIRED))
    return Change(current, after, Outcome.EXPIRED)


def leave(current: Membership) -> Change:
    after = replace(current, status=_moved(current, Status.LEFT))
    return Change(current, after, Outcome.LEFT)


def _activate(
    current: Membership,
    tier: str,
    now: datetime,
    *,
    term_ends_at: datetime | None,
    refund_ends_at: datetime | None,
) -> Change:
    # A muted member who pays stays muted (the mute's own rules end it), now on a paid tier.
    target = Status.TRIAL if tier == TIER_TRIAL else Status.ACTIVE
    status = current.status if current.status == Status.MUTED else _moved(current, target)
    after = Membership(
        status=status,
        tier=tier,
        trial_used=current.trial_used,
        activated_at=now,
        term_ends_at=term_ends_at,
        refund_window_ends_at=refund_ends_at,
    )
    outcome = Outcome.UPGRADED if current.seated else Outcome.ARRIVED
    return Change(current, after, outcome)


def _moved(current: Membership, target: Status) -> Status:
    """``target`` if the state machine allows it from here; a new membership may start in
    any initial status."""
    if current.status is None:
        if target not in INITIAL:
            raise Refused(409, "illegal-transition", "Not possible now", "not a member yet")
        return target
    try:
        return transition(current.status, target)
    except IllegalTransition as error:
        raise Refused(409, "illegal-transition", "Not possible now", str(error)) from error
