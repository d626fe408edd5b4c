"""The export's pure rules: the folds end in the same state whatever the order and however
often an event comes; the nightly run is 02:00 on the tenant's clock (across DST); the CSV
rows and text are exactly what a spreadsheet expects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from integrations.exports import domain, facts
from integrations.exports.domain import (
    Balance,
    Level,
    MemberFact,
    MembershipFact,
    MembershipState,
    MemberState,
    Profile,
    Wallet,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _member_fact(kind: int, minute: int, value: int) -> MemberFact:
    at = T0 + timedelta(minutes=minute)
    if kind == 0:
        tags = None if value % 3 == 0 else tuple(f"t{value}" for _ in range(value % 2 + 1))
        return Profile(at, f"会员{value}", tags)
    if kind == 1:
        return Level(at, value, f"L{value}")
    return Wallet(at, Balance(value, value % 7, value * 2, 0))


# Distinct times per part (ties go to the later arrival, which is the producer's order).
member_facts = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 100)),
    max_size=12,
    unique_by=lambda f: (f[0], f[1]),
).map(lambda raw: [_member_fact(*f) for f in raw])


def _fold(facts_: list[MemberFact]) -> MemberState | None:
    state = None
    for fact in facts_:
        state = domain.fold_member(state, fact)
    return state


@given(member_facts, st.randoms(use_true_random=False))
def test_a_member_ends_the_same_in_any_order(facts_: list[MemberFact], rnd: Random) -> None:
    shuffled = list(facts_)
    rnd.shuffle(shuffled)
    assert _fold(shuffled) == _fold(sorted(facts_, key=lambda f: f.at))


@given(member_facts)
def test_a_redelivered_member_event_changes_nothing(facts_: list[MemberFact]) -> None:
    once = _fold(facts_)
    for fact in facts_:
        assert domain.fold_member(once, fact) == once


def test_each_part_of_a_member_moves_on_its_own() -> None:
    state = domain.fold_member(None, Wallet(T0, Balance(10, 5, 15, 0)))
    state = domain.fold_member(state, Profile(T0 - timedelta(days=1), "张三", ("vip",)))
    state = domain.fold_member(state, Level(T0 + timedelta(hours=1), 2, "白银"))
    older = domain.fold_member(state, Wallet(T0 - timedelta(seconds=1), Balance(0, 0, 0, 0)))
    assert older == state  # an older entry never overwrites a newer balance
    untagged = domain.fold_member(state, Profile(T0, "张三丰", None))
    assert (untagged.display_name, untagged.tags) == ("张三丰", ("vip",))  # tags stay
    assert state == MemberState(
        display_name="张三",
        tags=("vip",),
        tags_at=T0 - timedelta(days=1),
        profile_at=T0 - timedelta(days=1),
        level=2,
        level_name="白银",
        level_at=T0 + timedelta(hours=1),
        balance=Balance(10, 5, 15, 0),
        balance_at=T0,
    )


def _membership_fact(kind: int, minute: int) -> MembershipFact:
    at = T0 + timedelta(minutes=minute)
    if kind == 0:
        return MembershipFact(
            "m-1", "c-1", at, "active", "trial", True, True, at + timedelta(days=7)
        )
    if kind == 1:
        return MembershipFact("m-1", "c-1", at, status="expired")
    if kind == 2:
        return MembershipFact("m-1", "c-1", at, tier="core")
    return MembershipFact(
        "m-1", "c-1", at, "active", sets_term=True, expires_at=at + timedelta(days=365)
    )


membership_facts = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 10_000)), max_size=12, unique_by=lambda f: f[1]
).map(lambda raw: [_membership_fact(*f) for f in raw])


@given(membership_facts, st.randoms(use_true_random=False))
def test_a_membership_ends_the_same_in_any_order_and_once(
    facts_: list[MembershipFact], rnd: Random
) -> None:
    def fold(items: list[MembershipFact]) -> MembershipState | None:
        state = None
        for fact in items:
            state = domain.fold_membership(state, fact)
        return state

    shuffled = list(facts_)
    rnd.shuffle(shuffled)
    in_order = fold(sorted(facts_, key=lambda f: f.at))
    assert fold(shuffled) == in_order
    assert fold(facts_ + facts_) == in_order  # every event twice


def test_membership_events_read_into_facts() -> None:
    activated = facts.MEMBERSHIP_FACTS["quanzi.onboarding.membership.activated.v1"](
        {
            "member_id": "m-1",
            "community_id": "c-1",
            "tier": "trial",
            "activated_at": "2026-12-01T08:00:00+00:00",
            "term_ends_at": None,
            "trial_ends_at": "2026-12-08T08:00:00+00:00",
        }
    )
    assert activated == MembershipFact(
        "m-1",
        "c-1",
        datetime(2026, 12, 1, 8, tzinfo=UTC),
        "active",
        "trial",
        True,
        True,
        datetime(2026, 12, 8, 8, tzinfo=UTC),
    )
    reinstated = facts.MEMBERSHIP_FACTS["quanzi.onboarding.membership.reinstated.v1"](
        {
            "member_id": "m-1",
            "community_id": "c-1",
            "status": "active",
            "reinstated_at": "2026-12-02T00:00:00Z",
        }
    )
    assert reinstated.status == "active" and reinstated.tier is None


def test_the_nightly_run_is_at_two_on_the_tenants_clock() -> None:
    # 01:59 in Shanghai: tonight; 02:00 sharp: tomorrow (strictly after now).
    before = datetime(2026, 12, 4, 17, 59, tzinfo=UTC)
    assert domain.next_run(before, "Asia/Shanghai") == (
        date(2026, 12, 5),
        datetime(2026, 12, 4, 18, 0, tzinfo=UTC),
    )
    at_two = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert domain.next_run(at_two, "Asia/Shanghai")[0] == date(2026, 12, 6)
    # New York: EST (-5) in December, EDT (-4) in July.
    assert domain.next_run(before, "America/New_York")[1] == datetime(2026, 12, 5, 7, tzinfo=UTC)
    july = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert domain.next_run(july, "America/New_York")[1] == datetime(2026, 7, 2, 6, tzinfo=UTC)
    # An unknown zone is the default.
    assert domain.next_run(before, "Mars/Olympus") == domain.next_run(before, "Asia/Shanghai")


def test_the_nightly_run_across_a_dst_change() -> None:
    # 2026-03-08: New York's clocks go 02:00 -> 03:00; 02:00 does not exist: it runs at
    # 03:00 EDT (07:00 UTC), once, and the next night at 02:00 EDT.
    eve = datetime(2026, 3, 8, 5, tzinfo=UTC)  # 00:00 EST
    day, at = domain.next_run(eve, "America/New_York")
    assert (day, at) == (date(2026, 3, 8), datetime(2026, 3, 8, 7, tzinfo=UTC))
    assert domain.next_run(at, "America/New_York") == (
        date(2026, 3, 9),
        datetime(2026, 3, 9, 6, tzinfo=UTC),
    )
    # 2026-11-01: clocks go 02:00 -> 01:00; 02:00 EST is 07:00 UTC, once.
    fall = datetime(2026, 11, 1, 4, tzinfo=UTC)  # 00:00 EDT
    assert domain.next_run(fall, "America/New_York")[1] == datetime(2026, 11, 1, 7, tzinfo=UTC)


def test_rows_repeat_the_member_per_membership() -> None:
    member = MemberState(
        display_name="李雷",
        tags=("vip", "北京"),
        level=3,
        level_name="黄金",
        balance=Balance(120, 30, 500, 0),
        balance_at=T0,
    )
    core = MembershipState("m-1", "c-2", "active", T0, "core", T0, T0, T0 + timedelta(days=365), T0)
    trial = MembershipState("m-1", "c-1", "expired", T0, "trial", T0, T0, None, T0)
    rows = domain.rows("m-1", member, [("ms-2", core), ("ms-1", trial)], SHANGHAI)
    head = ("m-1", "李雷", "vip|北京", 3, "黄金", 120, 30, 500, 0)
    assert rows == [
        (*head, "ms-1", "c-1", "trial", "expired", "2026-12-01T08:00:00+08:00", None),
        (
            *head,
            "ms-2",
            "c-2",
            "core",
            "active",
            "2026-12-01T08:00:00+08:00",
            "2027-12-01T08:00:00+08:00",
        ),
    ]
    alone = domain.rows("m-2", MemberState(), [], SHANGHAI)
    assert alone == [("m-2", *([None] * 14))]


def test_the_csv_has_a_bom_crlf_and_no_formulas() -> None:
    text = domain.csv_text([("m-1", "=HYPERLINK(1)", None, 1), ("m-2", "王, 五", "-3", 0)])
    assert text == "m-1,'=HYPERLINK(1),,1\r\nm-2,\"王, 五\",'-3,0\r\n"
    header = domain.csv_text([], header=True)
    assert header == "\ufeff" + ",".join(domain.HEADER) + "\r\n"
    assert header.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_filenames() -> None:
    local = datetime(2026, 12, 5, 2, 0, 7, tzinfo=SHANGHAI)
    assert domain.filename("nightly", local) == "members-2026-12-05.csv"
    assert domain.filename("manual", local) == "members-2026-12-05-020007.csv"
    assert domain.timer_key("t-1", date(2026, 12, 5)) == "t-1:2026-12-05"
