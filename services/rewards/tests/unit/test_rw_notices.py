"""When expiring points are announced, and which report periods are accepted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards.points.domain import Lot, LotState
from rewards.points.ledger import NOTICE_TIMER, _notice_of, expiry_day
from rewards.points.repository import WalletRow
from rewards.reports.service import MAX_REPORT_DAYS, ReportPeriodError, report_period

NOW = datetime(2026, 11, 21, 8, tzinfo=UTC)
WALLET = WalletRow(7, "t-1", "crm-1", 0, 0, 0, 0, 1, 0, NOW)


def lot(expires_at: datetime | None) -> Lot:
    return Lot("l-1", 10, 10, LotState.AVAILABLE, NOW, NOW, expires_at)


def test_one_timer_per_wallet_and_day_n_days_ahead() -> None:
    expires = datetime(2027, 11, 21, 19, 30, tzinfo=UTC)
    notice = _notice_of(WALLET, lot(expires), 7, NOW)
    assert notice is not None
    assert notice["kind"] == NOTICE_TIMER
    assert notice["key"] == "7:2027-11-21"
    assert notice["due_at"] == expires - timedelta(days=7)
    assert notice["payload"] == {"tenant_id": "t-1", "wallet_id": 7, "day": "2027-11-21"}


def test_no_timer_without_expiry_when_off_or_already_due() -> None:
    assert _notice_of(WALLET, lot(None), 7, NOW) is None
    assert _notice_of(WALLET, lot(NOW + timedelta(days=30)), 0, NOW) is None
    assert _notice_of(WALLET, lot(NOW + timedelta(days=7)), 7, NOW) is None  # due now
    assert _notice_of(WALLET, lot(NOW + timedelta(days=3)), 7, NOW) is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_day_contains_the_expiry(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    first, end = expiry_day(at)
    assert first <= at < end and end - first == timedelta(days=1)
    assert first.hour == first.minute == first.second == first.microsecond == 0


def test_report_periods() -> None:
    today = date(2026, 11, 21)
    assert report_period(None, None, today) == (date(2026, 10, 23), today)
    assert report_period(date(2026, 1, 1), date(2026, 1, 1), today) == (
        date(2026, 1, 1),
        date(2026, 1, 1),
    )
    year = (date(2024, 1, 1), date(2024, 12, 31))  # a leap year: 366 days
    assert report_period(*year, today) == year
    with pytest.raises(ReportPeriodError):
        report_period(date(2024, 1, 1), date(2025, 1, 1), today)
    with pytest.raises(ReportPeriodError):
        report_period(date(2026, 2, 1), date(2026, 1, 1), today)
    assert MAX_REPORT_DAYS == 366
