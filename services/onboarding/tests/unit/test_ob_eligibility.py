"""Group requirements in capacity routing: who may sit where, and in which order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.joins.domain import (
    AutoUpgrade,
    Candidate,
    GroupLoad,
    Requirements,
    choose_group,
    meets,
    overflow_template,
    placement_order,
)
from onboarding.payments.domain import reminder_at, reminder_times

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TRIAL = Candidate(tier="trial", level=1)
CORE = Candidate(tier="core", level=1)


def group(
    gid: str,
    count: int = 0,
    capacity: int = 10,
    min_tier: str | None = None,
    min_level: int | None = None,
    city: str | None = None,
    tags: frozenset[str] = frozenset(),
) -> GroupLoad:
    return GroupLoad(gid, count, capacity, Requirements(min_tier, min_level), city, tags)


def test_tiers_and_levels_gate_groups() -> None:
    assert meets(Requirements(), TRIAL)
    assert meets(Requirements(min_tier="trial"), TRIAL)
    assert not meets(Requirements(min_tier="core"), TRIAL)
    assert meets(Requirements(min_tier="core"), CORE)
    assert not meets(Requirements(min_level=3), Candidate(level=2))
    assert meets(Requirements(min_level=3), Candidate(level=3))
    assert not meets(Requirements(min_tier="trial"), Candidate(tier="unknown"))


def test_placement_skips_groups_the_member_does_not_qualify_for() -> None:
    groups = [group("core", min_tier="core"), group("lv5", min_level=5), group("open", 9)]
    assert [g.group_id for g in placement_order(groups, TRIAL)] == ["open"]
    assert [g.group_id for g in placement_order(groups, CORE)] == ["core", "open"]
    leveled = Candidate(tier="core", level=5)
    assert [g.group_id for g in placement_order(groups, leveled)] == ["core", "lv5", "open"]
    assert choose_group([group("core", min_tier="core")], TRIAL) is None
    assert [g.group_id for g in placement_order(groups)] == ["core", "open"]  # anyone: core


def test_city_and_interest_labels_come_first_but_never_exclude() -> None:
    groups = [group("a"), group("hz", 5, city="杭州"), group("books", 8, tags=frozenset({"读书"}))]
    local = Candidate(city="杭州")
    assert [g.group_id for g in placement_order(groups, local)] == ["hz", "a", "books"]
    reader = Candidate(tags=frozenset({"读书"}))
    assert placement_order(groups, reader)[0].group_id == "books"
    full_local = [group("a"), group("hz", 10, city="杭州")]
    assert [g.group_id for g in placement_order(full_local, local)] == ["a"]


def test_overflow_copies_the_most_demanding_group_the_member_qualifies_for() -> None:
    groups = [group("t"), group("c", min_tier="core"), group("l", min_tier="core", min_level=9)]
    template = overflow_template(groups, TRIAL)
    assert template is not None and template.group_id == "t"
    template = overflow_template(groups, CORE)
    assert template is not None and template.group_id == "c"
    assert overflow_template([group("c", min_tier="core")], TRIAL) is None


def test_auto_upgrade_settings() -> None:
    assert AutoUpgrade.of(None) is None and AutoUpgrade.of({}) is None
    upgrade = AutoUpgrade.of({"to_group_kind": "core", "on": ["payment", "level"], "level": 3})
    assert upgrade is not None and upgrade.on_payment()
    assert not upgrade.on_level(2) and upgrade.on_level(3)
    level_only = AutoUpgrade.of({"on": ["level"], "level": 2})
    assert level_only is not None and not level_only.on_payment() and level_only.on_level(5)
    no_level = AutoUpgrade.of({"on": ["level"]})
    assert no_level is not None and not no_level.on_level(100)


def test_reminders_only_ahead_each_once_earliest_first() -> None:
    end = NOW + timedelta(days=10)
    assert reminder_times(end, [1, 7, 7, 30, 0, -2], NOW) == [7, 1]
    assert reminder_times(NOW + timedelta(days=7), [7], NOW) == []  # due now is not ahead
    assert reminder_times(NOW - timedelta(days=1), [1], NOW) == []


def test_a_reminder_keeps_the_local_time_across_a_dst_change() -> None:
    """A term ending 09:00 in New York on 2026-03-10 (EDT): the 7-day reminder is at
    09:00 EST on 03-03, 14:00 UTC, not 13:00 UTC (7 × 24 h before)."""
    ny = ZoneInfo("America/New_York")
    end = datetime(2026, 3, 10, 13, tzinfo=UTC)
    assert reminder_at(end, 7, ny) == datetime(2026, 3, 3, 14, tzinfo=UTC)
    assert reminder_at(end, 1, ny) == datetime(2026, 3, 9, 13, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")  # no DST: exactly N × 24 h
    assert reminder_at(end, 7, shanghai) == end - timedelta(days=7)
    # Ahead or not is decided on the local reminder time.
    assert reminder_times(end, [7], datetime(2026, 3, 3, 13, 30, tzinfo=UTC), ny) == [7]


tiers = st.sampled_from([None, "trial", "core"])
levels = st.one_of(st.none(), st.integers(1, 5))
groups_st = st.lists(
    st.builds(
        lambda n, c, t, lv: (n, c, t, lv),
        st.integers(0, 3),
        st.integers(1, 4),
        tiers,
        levels,
    ),
    min_size=1,
    max_size=6,
)
candidates = st.builds(Candidate, tier=st.sampled_from(["trial", "core"]), level=st.integers(1, 6))


@settings(max_examples=200, deadline=None)
@given(groups_st, st.lists(candidates, max_size=40))
def test_members_fill_only_groups_they_qualify_for_never_over_capacity(
    specs: list[tuple[int, int, str | None, int | None]], joiners: list[Candidate]
) -> None:
    loads = {f"g{i}": group(f"g{i}", min(n, c), c, t, lv) for i, (n, c, t, lv) in enumerate(specs)}
    for candidate in joiners:
        chosen = choose_group(loads.values(), candidate)
        if chosen is None:
            # Nobody was turned away from a group that had room and admitted them.
            assert not any(g.has_room and meets(g.requires, candidate) for g in loads.values())
            continue
        assert meets(chosen.requires, candidate)
        loads[chosen.group_id] = GroupLoad(
            chosen.group_id, chosen.member_count + 1, chosen.capacity, chosen.requires
        )
    assert all(g.member_count <= g.capacity for g in loads.values())
