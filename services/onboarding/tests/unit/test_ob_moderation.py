"""Moderation rules: the ladder with its steps and decay, mute reasons, the state machine's
moves for muting trial members and undoing bans."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboarding.membership.states import Status, can_transition
from onboarding.moderation.domain import (
    AUTO_STRIKE_COOLDOWN,
    DEFAULT_LADDER,
    Ladder,
    MuteReasons,
    SanctionKind,
    SanctionStatus,
    Step,
    auto_strike_due,
    counts_as_strike,
    resting_status,
    restored_status,
    unmuted_status,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)

# ---------------------------------------------------------------- ladder


def test_next_index_follows_active_strikes_and_stops_at_the_top() -> None:
    assert DEFAULT_LADDER.next_index([], NOW) == 0
    three = [NOW - DAY, NOW - 2 * DAY, NOW - 3 * DAY]
    assert DEFAULT_LADDER.next_index(three, NOW) == 3
    assert DEFAULT_LADDER.next_sanction(three, NOW) == Step(SanctionKind.MUTE, 15 * DAY)
    many = [NOW - k * DAY for k in range(1, 20)]
    assert DEFAULT_LADDER.next_index(many, NOW) == len(DEFAULT_LADDER.steps) - 1


def test_decay_brings_a_member_back_down_the_ladder() -> None:
    ladder = Ladder(DEFAULT_LADDER.steps, strike_decay=30 * DAY)
    strikes = [NOW - 40 * DAY, NOW - 35 * DAY, NOW - 10 * DAY]
    assert ladder.next_index(strikes, NOW) == 1  # the two old strikes decayed
    assert ladder.next_index(strikes, NOW + 21 * DAY) == 0  # and then the last one too


def test_removal_is_a_step_without_duration() -> None:
    ladder = Ladder((Step(SanctionKind.WARNING), Step(SanctionKind.REMOVAL)))
    assert ladder.next_sanction([NOW - DAY], NOW).kind is SanctionKind.REMOVAL
    with pytest.raises(ValueError):
        Step(SanctionKind.REMOVAL, DAY)
    with pytest.raises(ValueError):
        Step(SanctionKind.MUTE, timedelta(0))


def test_only_overturned_sanctions_stop_counting() -> None:
    assert [s for s in SanctionStatus if not counts_as_strike(s)] == [SanctionStatus.OVERTURNED]


# ---------------------------------------------------------------- state machine


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.TRIAL, Status.MUTED),
        (Status.MUTED, Status.TRIAL),
        (Status.BANNED, Status.ACTIVE),  # an overturned ban: back to the status before
        (Status.BANNED, Status.PENDING_APPLICATION),
        (Status.BANNED, Status.EXPIRED),
        (Status.LEFT, Status.BANNED),  # banned after leaving: kept out
        (Status.REMOVED, Status.BANNED),
    ],
)
def test_moderation_moves(current: Status, target: Status) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.LEFT, Status.MUTED),
        (Status.PENDING_PAYMENT, Status.MUTED),
        (Status.BANNED, Status.MUTED),
    ],
)
def test_only_seated_members_are_muted(current: Status, target: Status) -> None:
    assert not can_transition(current, target)


# ---------------------------------------------------------------- mute reasons


def test_tier_decides_the_unmuted_status() -> None:
    assert unmuted_status("trial") is Status.TRIAL
    assert unmuted_status("core") is Status.ACTIVE
    assert resting_status("trial", MuteReasons(rules=True), NOW) is Status.MUTED
    assert resting_status("trial", MuteReasons(NOW - DAY), NOW) is Status.TRIAL


def test_accepting_rules_never_lifts_a_sanction_mute() -> None:
    reasons = MuteReasons().muted_until(NOW + DAY).rules_missed()
    assert reasons.rules_accepted().holds(NOW)
    assert not reasons.rules_accepted().holds(NOW + DAY)  # the end itself is unmuted


def test_a_mute_ending_never_lifts_a_rules_mute() -> None:
    reasons = MuteReasons().rules_missed().muted_until(NOW + DAY)
    assert reasons.sanction_ended(None).holds(NOW + 2 * DAY)
    assert not reasons.sanction_ended(None).rules_accepted().holds(NOW)


def test_the_longer_mute_wins() -> None:
    reasons = MuteReasons().muted_until(NOW + 7 * DAY).muted_until(NOW + DAY)
    assert reasons.until == NOW + 7 * DAY


def test_restored_status() -> None:
    none = MuteReasons()
    assert restored_status(Status.ACTIVE, "core", None, none, NOW) is Status.ACTIVE
    assert restored_status(Status.MUTED, "core", None, none, NOW) is Status.ACTIVE
    assert restored_status(Status.TRIAL, "trial", None, MuteReasons(rules=True), NOW) is (
        Status.MUTED
    )
    assert restored_status(Status.ACTIVE, "core", NOW - DAY, none, NOW) is Status.EXPIRED
    assert restored_status(Status.PENDING_PAYMENT, "core", None, none, NOW) is (
        Status.PENDING_PAYMENT
    )


@dataclass
class Model:
    """What the reasons must mean: the running mute ends and whether the rules are owed."""

    ends: list[datetime]
    rules: bool


OPS = st.one_of(
    st.tuples(st.just("mute"), st.integers(1, 30 * 24)),  # a mute of n hours from now
    st.tuples(st.just("rules_missed"), st.just(0)),
    st.tuples(st.just("accept"), st.just(0)),
    st.tuples(st.just("end_mute"), st.just(0)),  # the earliest running mute's timer fires
    st.tuples(st.just("wait"), st.integers(0, 10 * 24)),  # time passes, n hours
)


@given(st.sampled_from(["trial", "core"]), st.lists(OPS, max_size=40))
def test_status_is_muted_iff_some_reason_holds(tier: str, ops: list[tuple[str, int]]) -> None:
    now, reasons, model = NOW, MuteReasons(), Model([], rules=False)
    for op, hours in ops:
        if op == "mute":
            end = now + timedelta(hours=hours)
            reasons, model.ends = reasons.muted_until(end), [*model.ends, end]
        elif op == "rules_missed":
            reasons, model.rules = reasons.rules_missed(), True
        elif op == "accept":
            before = reasons.sanction_holds(now)
            reasons, model.rules = reasons.rules_accepted(), False
            assert reasons.sanction_holds(now) == before  # accepting never lifts a sanction
        elif op == "end_mute" and model.ends:
            model.ends.remove(min(model.ends))
            rules_before = reasons.rules
            reasons = reasons.sanction_ended(max(model.ends, default=None))
            assert reasons.rules == rules_before  # a timer never lifts a rules mute
        elif op == "wait":
            now += timedelta(hours=hours)
        holds = model.rules or any(end > now for end in model.ends)
        status = resting_status(tier, reasons, now)
        assert (status is Status.MUTED) == holds
        assert status in (Status.MUTED, unmuted_status(tier))


# ---------------------------------------------------------------- automatic strikes


@given(
    st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=30),
)
def test_a_burst_of_findings_is_one_strike_per_cooldown(offsets: list[int]) -> None:
    """Findings applied in any order: each counted strike is at least the cooldown after
    the previous counted one, and a finding is dropped only when a counted strike at most
    the cooldown before it (or after it) covers it."""
    base = datetime(2026, 12, 1, tzinfo=UTC)
    counted: list[datetime] = []
    for offset in offsets:
        at = base + timedelta(seconds=offset)
        last = max(counted) if counted else None
        if auto_strike_due(last, at):
            counted.append(at)
        else:
            assert last is not None and at - last < AUTO_STRIKE_COOLDOWN
    assert counted  # the first finding always counts
    ordered = sorted(counted)
    assert all(b - a >= AUTO_STRIKE_COOLDOWN for a, b in itertools.pairwise(ordered))


def test_automatic_strike_examples() -> None:
    at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert auto_strike_due(None, at)
    assert not auto_strike_due(at, at + timedelta(minutes=9))
    assert auto_strike_due(at, at + AUTO_STRIKE_COOLDOWN)
    assert not auto_strike_due(at, at - timedelta(seconds=1))  # a late finding of the burst
