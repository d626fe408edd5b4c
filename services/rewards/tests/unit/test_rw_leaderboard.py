"""Leaderboard periods and the scores entries add to them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rewards.leaderboards.domain import (
    NEVER,
    TENANT_WIDE,
    Period,
    PeriodError,
    Score,
    ScoreKey,
    Window,
    period,
    scores,
)
from rewards.points.domain import Entry, EntryKind
from rewards.zones.domain import Zones

TODAY = date(2026, 11, 21)
AT = datetime(2026, 11, 21, 8, tzinfo=UTC)
UTC_DAYS = Zones({TENANT_WIDE: "UTC"})


def test_periods_are_whole_days() -> None:
    assert period(Window.DAYS_7, TODAY, None, None) == Period(date(2026, 11, 15), TODAY)
    assert period(Window.DAYS_30, TODAY, None, None) == Period(date(2026, 10, 23), TODAY)
    assert period(Window.ALL, TODAY, None, None) == Period(None, None)
    custom = period(Window.CUSTOM, TODAY, date(2026, 11, 1), date(2026, 11, 30))
    assert custom == Period(date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("window", "first", "last"),
    [
        (Window.CUSTOM, None, TODAY),
        (Window.CUSTOM, TODAY, TODAY - timedelta(days=1)),
        (Window.CUSTOM, TODAY - timedelta(days=366), TODAY),
        (Window.ALL, TODAY, None),
    ],
)
def test_bad_periods(window: Window, first: date | None, last: date | None) -> None:
    with pytest.raises(PeriodError):
        period(window, TODAY, first, last)


def entry(kind: EntryKind, lifetime: int, at: datetime, **kw: object) -> Entry:
    return Entry(key=f"{kind}-{at}", kind=kind, at=at, lifetime_delta=lifetime, **kw)  # type: ignore[arg-type]


def test_scores_count_lifetime_points_on_the_day_earned_per_scope() -> None:
    earned = AT - timedelta(days=3)
    found = scores(
        [
            entry(EntryKind.EARN, 10, earned, community_id="c-1", lot_id="l1"),
            entry(EntryKind.EARN, 5, AT, lot_id="l2"),  # no community: tenant-wide only
            entry(EntryKind.REVERSE, -10, AT, community_id="c-1", lot_id="l1"),
            entry(EntryKind.SPEND, 0, AT),  # spending never lowers a score
        ],
        lambda e: earned if e.lot_id == "l1" else e.at,
        UTC_DAYS,
    )
    assert found == {
        ScoreKey("c-1", earned.date()): Score(0, earned),
        ScoreKey(TENANT_WIDE, earned.date()): Score(0, earned),
        ScoreKey(TENANT_WIDE, AT.date()): Score(5, AT),
    }


def test_a_reversal_alone_does_not_move_reached_at() -> None:
    found = scores([entry(EntryKind.REVERSE, -3, AT, lot_id="l")], lambda e: AT, UTC_DAYS)
    assert found == {ScoreKey(TENANT_WIDE, AT.date()): Score(-3, NEVER)}


def test_each_board_counts_its_own_local_day() -> None:
    """22:00 UTC on 2026-11-21 is the 22nd in a Shanghai tenant and on its Shanghai
    community's board, the 21st on its New York community's board."""
    zones = Zones({TENANT_WIDE: "Asia/Shanghai", "c-ny": "America/New_York"})
    at = datetime(2026, 11, 21, 22, tzinfo=UTC)
    found = scores(
        [
            entry(EntryKind.EARN, 2, at, community_id="c-ny"),
            entry(EntryKind.EARN, 3, at, community_id="c-sh"),  # zone unknown: the tenant's
        ],
        lambda e: e.at,
        zones,
    )
    assert found == {
        ScoreKey("c-ny", date(2026, 11, 21)): Score(2, at),
        ScoreKey("c-sh", date(2026, 11, 22)): Score(3, at),
        ScoreKey(TENANT_WIDE, date(2026, 11, 22)): Score(5, at),
    }
