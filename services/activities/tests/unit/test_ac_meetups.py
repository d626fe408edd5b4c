"""Meetup rules: settings, the form, the seats and the waitlist against a brute-force
model (property test), the lottery, offers' deadlines, check-in codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.meetups.domain import (
    InvalidMeetup,
    Meetup,
    Question,
    Refusal,
    Refused,
    Roster,
    Selection,
    Status,
    check_answers,
    check_attend,
    check_cancel,
    check_confirm,
    check_open,
    check_review,
    checkin_code,
    commitment,
    draw,
    no_shows,
    offer_deadline,
    on_registration,
    read_code,
    refund_on_cancel,
    ticket,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
KEY = b"k" * 32


def meetup(**kw: object) -> Meetup:
    values: dict[str, object] = {
        "capacity": 2,
        "selection": Selection.FIRST_COME,
        "opens_at": T0,
        "closes_at": T0 + timedelta(days=5),
        "starts_at": T0 + timedelta(days=6),
        "ends_at": T0 + timedelta(days=6, hours=3),
    }
    values.update(kw)
    return Meetup(**values)  # type: ignore[arg-type]


def reason(call: object) -> Refusal:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    return caught.value.reason


@pytest.mark.parametrize(
    "bad",
    [
        {"capacity": 0},
        {"cost_points": -1},
        {"closes_at": T0},
        {"starts_at": T0 + timedelta(days=4)},
        {"ends_at": T0 + timedelta(days=6)},
        {"confirm_hours": 0},
        {"questions": (Question("饮食", options=("素食",)),)},
        {"questions": (Question("饮食", options=("素食", "素食")),)},
        {"questions": tuple(Question(f"q{i}") for i in range(21))},
    ],
)
def test_contradicting_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidMeetup):
        meetup(**bad)


def test_the_registration_window_is_half_open() -> None:
    m = meetup()
    assert reason(lambda: check_open(m, T0 - timedelta(seconds=1))) is Refusal.NOT_OPEN
    check_open(m, T0)
    assert reason(lambda: check_open(m, m.closes_at)) is Refusal.CLOSED


def test_the_form_keeps_required_and_valid_answers_only() -> None:
    m = meetup(questions=(Question("为什么?"), Question("饮食", False, ("素食", "不限"))))
    assert check_answers(m, {"0": " 认识书友 "}) == {"0": "认识书友"}
    assert check_answers(m, {"0": "x", "1": "素食"}) == {"0": "x", "1": "素食"}
    for answers in ({}, {"0": "  "}, {"0": "x", "1": "火锅"}, {"0": "x", "7": "y"}):
        assert reason(lambda a=answers: check_answers(m, a)) is Refusal.ANSWERS


def test_selection_decides_the_starting_status() -> None:
    assert on_registration(meetup(), True) is Status.CONFIRMED
    assert on_registration(meetup(), False) is Status.WAITLISTED
    for selection in (Selection.LOTTERY, Selection.REVIEW):
        assert on_registration(meetup(selection=selection), True) is Status.APPLIED


def test_cancel_confirm_review_and_refund() -> None:
    m = meetup(cost_points=30)
    assert reason(lambda: check_cancel(m, Status.CONFIRMED, m.starts_at)) is Refusal.STARTED
    assert reason(lambda: check_cancel(m, Status.LAPSED, T0)) is Refusal.NOT_CANCELLABLE
    check_cancel(m, Status.WAITLISTED, T0)
    by = T0 + timedelta(hours=2)
    check_confirm(Status.OFFERED, by, by - timedelta(seconds=1))
    assert reason(lambda: check_confirm(Status.OFFERED, by, by)) is Refusal.OFFER_LAPSED
    assert reason(lambda: check_confirm(Status.WAITLISTED, None, T0)) is Refusal.NO_OFFER
    assert reason(lambda: check_review(m, Status.APPLIED, T0)) is Refusal.NOT_REVIEWABLE
    check_review(meetup(selection=Selection.REVIEW), Status.APPLIED, T0)
    assert refund_on_cancel(Status.CONFIRMED, 30) == 30
    assert refund_on_cancel(Status.OFFERED, 0) == 0


@given(st.integers(1, 24 * 14), st.integers(0, 24 * 10))
def test_an_offer_never_waits_past_the_start(hours: int, after_h: int) -> None:
    m = meetup(confirm_hours=hours)
    now = T0 + timedelta(hours=after_h)
    deadline = offer_deadline(m, now)
    assert deadline <= m.starts_at
    assert deadline == min(now + timedelta(hours=hours), m.starts_at)


# --- seats and the waitlist -------------------------------------------------------------

Op = tuple[str, int]  # ("register", _) or ("leave", index among the active)


@given(
    st.integers(1, 6),
    st.lists(st.tuples(st.sampled_from(["register", "leave"]), st.integers(0, 50)), max_size=80),
)
def test_the_roster_matches_first_come_in_arrival_order(capacity: int, ops: list[Op]) -> None:
    """Brute force: the seat holders are always the first ``capacity`` still-active
    registrations in arrival order, the waitlist the rest in that order; the roster,
    giving seats back to the head of the waitlist, ends there after every step."""
    roster = Roster(capacity)
    holders: set[str] = set()
    active: list[str] = []  # the model: arrival order
    arrivals = 0
    for op, pick in ops:
        if op == "register":
            arrivals += 1
            name = f"r{arrivals}"
            roster, seated = roster.take()
            if seated:
                holders.add(name)
            else:
                roster = roster.wait(name)
            active.append(name)
        elif active:
            name = active.pop(pick % len(active))
            if name in holders:
                holders.remove(name)
                roster, promoted = roster.give_back()
                if promoted is not None:
                    holders.add(promoted)
            else:
                roster = roster.leave_waitlist(name)
        assert roster.held == len(holders) <= capacity
        assert holders == set(active[:capacity])
        assert list(roster.waitlist) == active[capacity:]


# --- the lottery ------------------------------------------------------------------------


@given(
    st.text(min_size=1, max_size=20),
    st.lists(st.uuids().map(str), unique=True, max_size=30),
    st.integers(0, 40),
    st.randoms(),
)
def test_the_draw_is_a_reproducible_ordering(
    seed: str, ids: list[str], seats: int, shuffler: object
) -> None:
    winners, rest = draw(seed, ids, seats)
    assert len(winners) == min(seats, len(ids))
    assert sorted(winners + rest) == sorted(ids)
    shuffled = list(ids)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    assert draw(seed, shuffled, seats) == (winners, rest)  # arrival order does not matter
    tickets = [ticket(seed, r) for r in winners + rest]
    assert tickets == sorted(tickets)


def test_the_commitment_is_the_seeds_hash() -> None:
    assert commitment("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --- check-in codes ---------------------------------------------------------------------


@given(
    st.integers(1, 10**6), st.integers(0, 15), st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
)
def test_a_code_reads_back_and_any_change_is_refused(number: int, at: int, char: str) -> None:
    code = checkin_code(KEY, "t-1", "mt-1", number)
    assert read_code(KEY, "t-1", "mt-1", code) == number
    assert read_code(KEY, "t-1", "mt-1", code.lower()) == number
    prefix, mac = code.split("-")
    changed = mac[:at] + char + mac[at + 1 :]
    if changed != mac:
        assert reason(lambda: read_code(KEY, "t-1", "mt-1", f"{prefix}-{changed}")) is (
            Refusal.BAD_CODE
        )
    for other in (("t-1", "mt-2"), ("t-2", "mt-1")):
        assert reason(lambda o=other: read_code(KEY, *o, code)) is Refusal.BAD_CODE
    assert reason(lambda: read_code(b"x" * 32, "t-1", "mt-1", code)) is Refusal.BAD_CODE
    assert reason(lambda: read_code(KEY, "t-1", "mt-1", f"{number + 1}-{mac}")) is Refusal.BAD_CODE


@pytest.mark.parametrize("junk", ["", "-", "12", "x-ABC", "1234567890-ABC", "12-"])
def test_junk_is_not_a_code(junk: str) -> None:
    assert reason(lambda: read_code(KEY, "t-1", "mt-1", junk)) is Refusal.BAD_CODE


def test_attendance_once_for_a_confirmed_seat_before_the_end() -> None:
    m = meetup()
    check_attend(m, Status.CONFIRMED, m.starts_at)
    assert reason(lambda: check_attend(m, Status.ATTENDED, m.starts_at)) is Refusal.CODE_USED
    assert reason(lambda: check_attend(m, Status.WAITLISTED, m.starts_at)) is (
        Refusal.NOT_CONFIRMED
    )
    assert reason(lambda: check_attend(m, Status.CONFIRMED, m.ends_at)) is Refusal.STARTED
    statuses = [("a", Status.ATTENDED), ("b", Status.CONFIRMED), ("c", Status.CANCELLED)]
    assert no_shows(statuses) == ["b"]
