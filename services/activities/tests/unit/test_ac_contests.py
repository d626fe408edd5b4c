"""Contest rules: the period in local days, ranking (best per key, ties by reach then
member id) against a brute-force model, the awards of the top places, status and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.contests.domain import (
    Award,
    Fact,
    InvalidContest,
    Period,
    Refusal,
    Refused,
    Standing,
    Status,
    check_awards,
    check_cancel,
    check_finish,
    standing_of,
    standings,
    status,
    winners,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def fact(member: str, key: str, amount: int, minutes: int) -> Fact:
    return Fact(member, key, amount, T0 + timedelta(minutes=minutes))


def test_the_period_runs_from_the_first_local_midnight_to_the_one_after_the_last_day() -> None:
    period = Period(date(2026, 12, 1), date(2026, 12, 31))
    assert period.starts_at(SHANGHAI) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert period.ends_at(SHANGHAI) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    # Across New York's DST change (1 Nov 2026): midnight is 04:00 UTC before, 05:00 after.
    autumn = Period(date(2026, 10, 1), date(2026, 11, 30))
    assert autumn.starts_at(NEW_YORK) == datetime(2026, 10, 1, 4, tzinfo=UTC)
    assert autumn.ends_at(NEW_YORK) == datetime(2026, 12, 1, 5, tzinfo=UTC)


def test_invalid_periods_and_awards() -> None:
    with pytest.raises(InvalidContest):
        Period(date(2026, 12, 2), date(2026, 12, 1))
    with pytest.raises(InvalidContest):
        Period(date(2026, 1, 1), date(2027, 1, 2))
    Period(date(2026, 12, 1), date(2026, 12, 1))  # one day is a contest
    with pytest.raises(InvalidContest):
        Award()  # gives nothing
    with pytest.raises(InvalidContest):
        Award(points=-1)
    with pytest.raises(InvalidContest):
        check_awards([])
    with pytest.raises(InvalidContest):
        check_awards([Award(points=1)] * 51)
    check_awards([Award(badge="冠军"), Award(title="亚军"), Award(points=10)])


def test_score_is_the_sum_of_the_best_per_key_and_ties_go_to_who_got_there_first() -> None:
    ranked = standings(
        [
            fact("a", "quiz-1", 3, 10),
            fact("a", "quiz-1", 5, 20),  # a retake: the best counts, not the sum
            fact("a", "quiz-2", 2, 30),
            fact("b", "quiz-1", 7, 5),
            fact("b", "quiz-1", 7, 50),  # the same best later: reached at the first
            fact("c", "quiz-1", 7, 40),
            fact("d", "quiz-1", 0, 1),  # no score: not ranked
        ]
    )
    assert [(s.place, s.member_id, s.score) for s in ranked] == [
        (1, "b", 7),
        (2, "a", 7),
        (3, "c", 7),
    ]
    assert ranked[0].reached_at == T0 + timedelta(minutes=5)
    assert ranked[1].reached_at == T0 + timedelta(minutes=30)
    # A tie in score and reach: the member id decides.
    tied = standings([fact("z", "k", 1, 0), fact("y", "k", 1, 0)])
    assert [s.member_id for s in tied] == ["y", "z"]
    assert standing_of(ranked, "c") == Standing(3, "c", 7, T0 + timedelta(minutes=40))
    assert standing_of(ranked, "d") is None


def test_the_top_places_take_the_awards_in_order() -> None:
    ranked = standings([fact(m, "checkins", n, 0) for m, n in (("a", 5), ("b", 3), ("c", 9))])
    awards = [Award(points=500, badge="冠军"), Award(points=300), Award(points=100)]
    won = winners(ranked, awards)
    assert [(s.member_id, a.points) for s, a in won] == [("c", 500), ("a", 300), ("b", 100)]
    assert winners(ranked[:1], awards) == [(ranked[0], awards[0])]  # fewer scored than N
    assert winners([], awards) == []


def test_status_and_refusals() -> None:
    starts, ends = T0, T0 + timedelta(days=30)

    def at(now: datetime, **flags: bool) -> Status:
        return status(
            starts_at=starts,
            ends_at=ends,
            finished=flags.get("finished", False),
            cancelled=flags.get("cancelled", False),
            now=now,
        )

    assert at(starts - timedelta(seconds=1)) is Status.UPCOMING
    assert at(starts) is Status.RUNNING
    assert at(ends) is Status.ENDED
    assert at(ends, finished=True) is Status.FINISHED
    assert at(starts, cancelled=True) is Status.CANCELLED
    check_cancel(Status.RUNNING)
    check_finish(Status.ENDED)
    check_finish(Status.FINISHED)  # shown as it is: the settlement is once
    for current, check, reason in (
        (Status.FINISHED, check_cancel, Refusal.FINISHED),
        (Status.CANCELLED, check_cancel, Refusal.CANCELLED),
        (Status.CANCELLED, check_finish, Refusal.CANCELLED),
        (Status.RUNNING, check_finish, Refusal.RUNNING),
        (Status.UPCOMING, check_finish, Refusal.RUNNING),
    ):
        with pytest.raises(Refused) as refused:
            check(current)
        assert refused.value.reason is reason


members = st.sampled_from([f"m-{i}" for i in range(6)])
keys = st.sampled_from(["checkins", "quiz-1", "quiz-2"])
facts = st.lists(st.builds(fact, members, keys, st.integers(0, 4), st.integers(0, 20)), max_size=40)


def model(given_facts: list[Fact]) -> list[tuple[str, int, datetime]]:
    """Brute force: every member's score and reach straight from the definition."""
    found = []
    for member in sorted({f.member_id for f in given_facts}):
        score, reach = 0, None
        for key in sorted({f.key for f in given_facts if f.member_id == member}):
            mine = [f for f in given_facts if f.member_id == member and f.key == key]
            best = max(f.amount for f in mine)
            if best <= 0:
                continue
            first = min(f.at for f in mine if f.amount == best)
            score += best
            reach = first if reach is None else max(reach, first)
        if score > 0 and reach is not None:
            found.append((member, score, reach))
    return found


@given(facts, st.randoms(use_true_random=False), st.integers(1, 5))
def test_ranking_is_a_total_order_whatever_the_order_of_the_facts(
    given_facts: list[Fact], shuffler: object, top: int
) -> None:
    ranked = standings(given_facts)
    shuffled = list(given_facts)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    again = standings(shuffled)
    assert again == ranked
    awards = [Award(points=100 * (top - i)) for i in range(top)]
    assert winners(again, awards) == winners(ranked, awards)
    # The same members and scores as the brute-force model, strictly ordered by
    # (score desc, reach asc, member id asc): no two members share a place.
    assert sorted((s.member_id, s.score, s.reached_at) for s in ranked) == model(given_facts)
    order = [(-s.score, s.reached_at, s.member_id) for s in ranked]
    assert order == sorted(order) and len(set(order)) == len(order)
    assert [s.place for s in ranked] == list(range(1, len(ranked) + 1))
