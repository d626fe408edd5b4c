"""Domain rules of onboarding: state machine, paid terms, capacity routing, moderation ladder,
level gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.joins.domain import (
    Candidate,
    GroupLoad,
    Requirements,
    Simulation,
    choose_group,
    keep_open,
    needs_overflow_soon,
    placement_order,
    waiting_order,
)
from onboarding.levels.domain import BASE_LEVEL, Level, admits, fold_level, supersedes
from onboarding.membership.states import (
    INITIAL,
    SEATED,
    TRANSITIONS,
    IllegalTransition,
    Status,
    can_transition,
    transition,
)
from onboarding.moderation.domain import DEFAULT_LADDER, Ladder, SanctionKind, Step
from onboarding.payments.domain import (
    PaidTerms,
    TermKind,
    TermOver,
    paid_period,
    refund_allowed,
    trial_ends_at,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# ---------------------------------------------------------------- state machine


def test_every_status_has_its_transitions_listed() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert INITIAL.issubset(Status) and SEATED.issubset(Status)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.PENDING_PAYMENT, Status.ACTIVE),
        (Status.ACTIVE, Status.REFUNDED),
        (Status.TRIAL, Status.EXPIRED),
        (Status.ACTIVE, Status.MUTED),
        (Status.MUTED, Status.ACTIVE),
        (Status.LEFT, Status.ACTIVE),
        (Status.BANNED, Status.LEFT),
    ],
)
def test_allowed_moves(current: Status, target: Status) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.PENDING_PAYMENT, Status.REFUNDED),  # nothing was paid yet
        (Status.TRIAL, Status.REFUNDED),  # a trial is free
        (Status.BANNED, Status.MUTED),  # restored to the status before, then muted again
        (Status.EXPIRED, Status.MUTED),
        (Status.ACTIVE, Status.ACTIVE),
    ],
)
def test_illegal_moves_are_refused(current: Status, target: Status) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition):
        transition(current, target)


@given(st.sampled_from(sorted(INITIAL)), st.lists(st.sampled_from(list(Status)), max_size=40))
def test_random_walks_never_reach_an_illegal_state(start: Status, wanted: list[Status]) -> None:
    status = start
    for target in wanted:
        try:
            new = transition(status, target)
        except IllegalTransition:
            assert target not in TRANSITIONS[status]
            continue
        assert new in TRANSITIONS[status]
        status = new
    assert status in Status


def test_every_status_is_reachable_from_a_start() -> None:
    seen, frontier = set(INITIAL), list(INITIAL)
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()] - seen:
            seen.add(nxt)
            frontier.append(nxt)
    assert seen == set(Status)


# ---------------------------------------------------------------- paid terms


def rolling(days: int = 30, refund_hours: int = 72, trial_days: int = 0) -> PaidTerms:
    return PaidTerms(
        price_cents=9900,
        currency="CNY",
        term_kind=TermKind.ROLLING,
        term_days=days,
        trial_days=trial_days,
        refund_window_hours=refund_hours,
    )


def test_rolling_term_starts_at_payment_and_renewal_extends_from_the_end() -> None:
    first = paid_period(rolling(), NOW, None)
    assert first.term_ends_at == NOW + timedelta(days=30)
    assert first.refund_window_ends_at == NOW + timedelta(hours=72)
    early = paid_period(rolling(), NOW + timedelta(days=10), first.term_ends_at)
    assert early.term_ends_at == NOW + timedelta(days=60)  # no day lost by paying early
    late = paid_period(rolling(), NOW + timedelta(days=40), first.term_ends_at)
    assert late.term_ends_at == NOW + timedelta(days=70)  # a lapsed term restarts today


def test_fixed_term_ends_on_its_date_and_cannot_be_bought_after_it() -> None:
    ends = NOW + timedelta(days=100)
    terms = PaidTerms(9900, "CNY", TermKind.FIXED, fixed_ends_at=ends, refund_window_hours=1)
    assert paid_period(terms, NOW, None).term_ends_at == ends
    with pytest.raises(TermOver):
        paid_period(terms, ends, None)


def test_refund_only_inside_the_window() -> None:
    window_end = paid_period(rolling(refund_hours=72), NOW, None).refund_window_ends_at
    assert refund_allowed(window_end, NOW + timedelta(hours=71, minutes=59))
    assert not refund_allowed(window_end, window_end)
    assert not refund_allowed(None, NOW)
    no_window = paid_period(rolling(refund_hours=0), NOW, None).refund_window_ends_at
    assert not refund_allowed(no_window, NOW)


def test_trial_days() -> None:
    assert trial_ends_at(rolling(trial_days=7), NOW) == NOW + timedelta(days=7)
    assert trial_ends_at(rolling(), NOW) is None


@pytest.mark.parametrize(
    "bad",
    [
        {"price_cents": 0},
        {"term_days": None},
        {"term_days": 0},
        {"trial_days": -1},
        {"refund_window_hours": -1},
    ],
)
def test_inconsistent_terms_are_refused(bad: dict[str, int | None]) -> None:
    values = {"price_cents": 100, "currency": "CNY", "term_kind": TermKind.ROLLING, "term_days": 30}
    with pytest.raises(ValueError):
        PaidTerms(**{**values, **bad})  # type: ignore[arg-type]


# ---------------------------------------------------------------- capacity routing


def test_least_full_group_with_room_wins() -> None:
    groups = [GroupLoad("a", 2, 3), GroupLoad("b", 100, 500), GroupLoad("c", 5, 5)]
    assert choose_group(groups) == GroupLoad("b", 100, 500)
    assert [g.group_id for g in placement_order(groups)] == ["b", "a"]
    assert choose_group([GroupLoad("c", 5, 5)]) is None


def test_waiters_spread_over_the_equally_suitable_groups_only() -> None:
    shanghai = Candidate(city="Shanghai")
    groups = [
        GroupLoad("any-1", 0, 100),
        GroupLoad("sh-2", 20, 100, city="Shanghai"),
        GroupLoad("sh-1", 10, 100, city="shanghai"),
        GroupLoad("any-2", 5, 100),
    ]
    order = placement_order(groups, shanghai)
    assert [g.group_id for g in order] == ["sh-1", "sh-2", "any-1", "any-2"]

    def ids(spread: int) -> list[str]:
        return [g.group_id for g in waiting_order(order, shanghai, spread)]

    assert ids(0) == ["sh-1", "sh-2", "any-1", "any-2"]
    assert ids(1) == ["sh-2", "sh-1", "any-1", "any-2"]  # the city's groups first, always
    assert ids(2) == ids(0)
    assert waiting_order([], shanghai, 7) == []


@given(
    loads=st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from([None, "Shanghai", "Beijing"])),
        max_size=8,
    ),
    spread=st.integers(0, 2**32),
)
def test_waiting_order_is_a_rotation_of_the_suitable_lead(
    loads: list[tuple[int, str | None]], spread: int
) -> None:
    shanghai = Candidate(city="Shanghai")
    groups = [GroupLoad(f"g{n}", count, 10, city=city) for n, (count, city) in enumerate(loads)]
    order = placement_order(groups, shanghai)
    waiting = waiting_order(order, shanghai, spread)
    assert sorted(g.group_id for g in waiting) == sorted(g.group_id for g in order)
    # placement_order puts the city's groups first; with none, every group suits alike.
    suits = [g.city == "Shanghai" for g in order]
    lead = suits.count(True) if suits and suits[0] else len(order)
    assert waiting[lead:] == order[lead:]
    if lead:
        assert waiting[0] == order[spread % lead]
        assert waiting[:lead] == [*order[spread % lead : lead], *order[: spread % lead]]


def test_a_code_keeps_as_many_groups_open_as_it_lists_for_the_member() -> None:
    core_only = Requirements(min_tier="core")
    listed = [GroupLoad("a", 0, 200), GroupLoad("b", 0, 200), GroupLoad("c", 0, 200, core_only)]
    assert keep_open(listed, Candidate(tier="core")) == 3
    assert keep_open(listed, Candidate(tier="trial")) == 2
    assert keep_open([GroupLoad("c", 0, 200, core_only)], Candidate(tier="trial")) == 1
    thirty = [GroupLoad(f"g{n}", 0, 100) for n in range(30)]
    assert keep_open(thirty, Candidate()) == 3  # at most three part-full groups after a burst

    three = [GroupLoad("a", 120, 200), GroupLoad("b", 199, 200), GroupLoad("c", 150, 200)]
    assert not needs_overflow_soon(three, 200, keep_open=3)
    # The seat just taken fills b: two groups left with room, three wanted.
    assert needs_overflow_soon(three, 200, taken=three[1], keep_open=3)
    assert not needs_overflow_soon(three, 200, taken=three[0], keep_open=3)
    # One listed group: it fills, then the next opens on demand (as small groups do).
    assert not needs_overflow_soon([GroupLoad("a", 50, 200)], 200, keep_open=1)
    small = [GroupLoad("a", 2, 2), GroupLoad("b", 1, 2)]
    assert not needs_overflow_soon(small, 2, keep_open=3)


def test_overflow_groups_are_named_with_a_running_number() -> None:
    run = Simulation([GroupLoad("g1", 0, 2)], overflow_prefix="读书会", overflow_capacity=2)
    placed = run.place_all([f"m{i}" for i in range(7)])
    assert sorted(set(placed.values())) == ["g1", "读书会1", "读书会2", "读书会3"]


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(1, 6)), min_size=0, max_size=5),
    st.integers(1, 6),
    st.integers(0, 60),
)
def test_capacity_is_never_exceeded_and_every_member_is_placed_once(
    loads: list[tuple[int, int]], overflow_capacity: int, joiners: int
) -> None:
    groups = [GroupLoad(f"g{i}", min(count, cap), cap) for i, (count, cap) in enumerate(loads)]
    before = sum(g.member_count for g in groups)
    run = Simulation(groups, overflow_prefix="overflow-", overflow_capacity=overflow_capacity)
    members = [f"m{i}" for i in range(joiners)]
    placed = run.place_all(members)
    assert sorted(placed) == sorted(members)
    assert all(g.member_count <= g.capacity for g in run.groups)
    assert sum(g.member_count for g in run.groups) == before + joiners
    # An overflow group is only opened when every other group is full.
    free_seats_left = sum(g.capacity - g.member_count for g in run.groups)
    assert free_seats_left < overflow_capacity or run.overflow_count == 0


# ---------------------------------------------------------------- moderation ladder


def test_default_ladder_escalates_and_stops_at_the_ban() -> None:
    strikes: list[datetime] = []
    seen = []
    for day in range(7):
        now = NOW + timedelta(days=day)
        step = DEFAULT_LADDER.next_sanction(strikes, now)
        seen.append((step.kind, step.duration))
        strikes.append(now)
    assert seen == [
        (SanctionKind.WARNING, None),
        (SanctionKind.MUTE, timedelta(days=1)),
        (SanctionKind.MUTE, timedelta(days=7)),
        (SanctionKind.MUTE, timedelta(days=15)),
        (SanctionKind.BAN, None),
        (SanctionKind.BAN, None),
        (SanctionKind.BAN, None),
    ]


def test_strikes_decay() -> None:
    ladder = Ladder(DEFAULT_LADDER.steps, strike_decay=timedelta(days=30))
    old = [NOW - timedelta(days=31), NOW - timedelta(days=40)]
    assert ladder.next_sanction(old, NOW).kind is SanctionKind.WARNING
    assert ladder.next_sanction([*old, NOW - timedelta(days=1)], NOW).duration == timedelta(days=1)


def test_ladders_are_configurable_and_checked() -> None:
    strict = Ladder((Step(SanctionKind.MUTE, timedelta(hours=1)), Step(SanctionKind.BAN)))
    assert strict.next_sanction([], NOW).kind is SanctionKind.MUTE
    with pytest.raises(ValueError):
        Step(SanctionKind.MUTE)
    with pytest.raises(ValueError):
        Step(SanctionKind.BAN, timedelta(days=1))
    with pytest.raises(ValueError):
        Ladder(())


@given(st.lists(st.integers(-200, 0), max_size=20))
def test_sanction_never_softens_with_more_active_strikes(offsets: list[int]) -> None:
    strikes = [NOW + timedelta(days=d) for d in offsets]
    index = list(DEFAULT_LADDER.steps).index
    current = index(DEFAULT_LADDER.next_sanction(strikes, NOW))
    more = index(DEFAULT_LADDER.next_sanction([*strikes, NOW], NOW))
    assert more >= current


# ---------------------------------------------------------------- level gate


def test_level_gate_admits_at_or_above_the_level() -> None:
    assert admits(None, BASE_LEVEL)
    assert admits(3, 3) and admits(3, 4)
    assert not admits(3, 2)


def test_an_older_level_never_overwrites_a_newer_one() -> None:
    assert supersedes(NOW, None)
    assert supersedes(NOW, NOW)  # a redelivery of the same change is harmless
    assert not supersedes(NOW - timedelta(seconds=1), NOW)


@given(st.permutations(range(6)), st.lists(st.integers(1, 20), min_size=6, max_size=6))
def test_a_run_of_level_reports_in_any_order_keeps_the_latest(
    order: list[int], levels: list[int]
) -> None:
    """However a run's reports arrive (a replayed dead letter among them), the fold of the
    batched consumer ends on the report that changed last."""
    reports = [Level(levels[n], NOW + timedelta(minutes=n)) for n in range(6)]
    known: Level | None = None
    for n in order:
        known = fold_level(known, reports[n])
    assert known == reports[-1]
