"""When expiring points are announced, and which report periods are accepted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rewards.points.domain import Lot, LotState
from rewards.points.ledger import NOTICE_TIMER, _notice_of
from rewards.points.repository import WalletRow
from rewards.reports.service import MAX_REPORT_DAYS, ReportPeriodError, report_period
from rewards.zones.domain import zone

UTC_ZONE = zone("UTC")

NOW = datetime(2026, 11, 21, 8, tzinfo=UTC)
WALLET = WalletRow(7, "t-1", "crm-1", 0, 0, 0, 0, 1, 0, NOW)


def lot(expires_at: datetime | None) -> Lot:
    return Lot("l-1", 10, 10, LotState.AVAILABLE, NOW, NOW, expires_at)


def test_one_timer_per_wallet_and_day_n_days_ahead() -> None:
    expires = datetime(2027, 11, 21, 19, 30, tzinfo=UTC)
    notice = _notice_of(WALLET, lot(expires), 7, NOW, UTC_ZONE)
    assert notice is not None
    assert notice["kind"] == NOTICE_TIMER
    assert notice["key"] == "7:2027-11-21"
    assert notice["due_at"] == expires - timedelta(days=7)
    payload = {"tenant_id": "t-1", "wallet_id": 7, "day": "2027-11-21", "zone": "UTC"}
    assert notice["payload"] == payload
    # The tenant's day: 19:30 UTC is already the 22nd in Shanghai.
    shanghai = _notice_of(WALLET, lot(expires), 7, NOW, zone("Asia/Shanghai"))
    assert shanghai is not None and shanghai["key"] == "7:2027-11-22"
    assert shanghai["payload"]["zone"] == "Asia/Shanghai"


def test_no_timer_without_expiry_when_off_or_already_due() -> None:
    assert _notice_of(WALLET, lot(None), 7, NOW, UTC_ZONE) is None
    assert _notice_of(WALLET, lot(NOW + timedelta(days=30)), 0, NOW, UTC_ZONE) is None
    assert _notice_of(WALLET, lot(NOW + timedelta(days=7)), 7, NOW, UTC_ZONE) is None  # due now
    assert _notice_of(WALLET, lot(NOW + timedelta(days=3)), 7, NOW, UTC_ZONE) is None


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
