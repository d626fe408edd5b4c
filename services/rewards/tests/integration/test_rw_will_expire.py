"""points.will_expire: announced N days ahead, once per lot, one event per member and
day of expiry; nothing for spent, expired or reversed lots. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from rewards.notices.handlers import announce_due
from rewards.points import service as points_service
from servicekit.db import transaction
from servicekit.tables import timers
from servicekit.timers import Timer
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

WILL_EXPIRE = "quanzi.rewards.points.will_expire.v1"
NOTICE = "rewards.will_expire"
TENANT = "t-acme"


def early_today() -> datetime:
    """01:00 UTC today: lots credited at 01:00 and 03:00 expire on the same UTC day."""
    return utcnow().replace(hour=1, minute=0, second=0, microsecond=0)


async def notice_timers(ledger: Ledger) -> list[Timer]:
    async with ledger.engine.connect() as connection:
        query = select(timers).where(timers.c.kind == NOTICE)
        rows = (await connection.execute(query)).mappings().all()
    return [Timer(**{k: row[k] for k in Timer.__dataclass_fields__}) for row in rows]


async def debit(ledger: Ledger, member_id: str, points: int, key: str) -> None:
    async with transaction(ledger.sessions) as session:
        await points_service.adjust(
            session,
            tenant_id=TENANT,
            member_id=member_id,
            points=-points,
            reason="test",
            key=key,
            community_id=None,
            actor_id="op-1",
        )


async def test_announced_once_seven_days_ahead(ledger: Ledger) -> None:
    at = early_today()
    await ledger.deliver(ledger.activated("m-1", "newbie", at=at, window_days=None))
    [timer] = await notice_timers(ledger)
    expires_at = at + timedelta(days=365)
    assert timer.due_at == expires_at - timedelta(days=7)
    assert await ledger.fire_timers(timer.due_at - timedelta(minutes=1)) == 0  # not yet
    assert await ledger.fire_timers(timer.due_at + timedelta(minutes=1)) == 1
    assert await ledger.fire_timers(timer.due_at + timedelta(minutes=2)) == 0  # fired
    # A timer firing again (a crash after the event, a re-armed timer) announces nothing.
    async with transaction(ledger.sessions) as session:
        await announce_due(session, timer)
    [announced] = await ledger.published(WILL_EXPIRE)  # validated against the contract
    assert announced.key == "newbie"
    assert announced.data["points"] == 10
    assert announced.data["expires_on"] == expires_at.date().isoformat()
    assert datetime.fromisoformat(announced.data["expires_at"]) == expires_at
    assert [lot["points"] for lot in announced.data["lots"]] == [10]
    # The lot still expires at its time; the announcement changed no balance.
    assert (await ledger.balances("newbie") or {})["available"] == 10
    await ledger.fire_timers(expires_at + timedelta(minutes=1))
    assert (await ledger.balances("newbie") or {})["available"] == 0
    assert len(await ledger.published(WILL_EXPIRE)) == 1
    await ledger.check_invariants()


async def test_lots_of_a_day_make_one_announcement_of_what_is_left(ledger: Ledger) -> None:
    at = early_today()
    await ledger.deliver(
        ledger.activated("m-1", "multi", at=at, window_days=None),
        ledger.activated("m-2", "multi", at=at + timedelta(hours=2), window_days=None),
        ledger.activated("m-3", "multi", at=at + timedelta(days=1), window_days=None),
    )
    assert len(await notice_timers(ledger)) == 2  # two days of expiry
    await debit(ledger, "multi", 4, "spend-4")  # from the soonest-expiring lot
    await ledger.fire_timers(at + timedelta(days=358, hours=3))
    [first_day] = await ledger.published(WILL_EXPIRE)
    assert first_day.data["points"] == 16
    assert sorted(lot["points"] for lot in first_day.data["lots"]) == [6, 10]
    await ledger.fire_timers(at + timedelta(days=359, hours=3))
    assert [e.data["points"] for e in await ledger.published(WILL_EXPIRE)] == [16, 10]


async def test_spent_and_reversed_lots_announce_nothing(ledger: Ledger) -> None:
    at = early_today()
    await ledger.deliver(ledger.activated("m-1", "spender", at=at, window_days=None))
    await debit(ledger, "spender", 10, "spend-all")
    # Pending through a refund window, then refunded: the day's timer goes with it.
    await ledger.deliver(ledger.activated("m-2", "refunded", at=at))
    assert len(await notice_timers(ledger)) == 2
    await ledger.deliver(ledger.refunded("m-2", "refunded"))
    assert len(await notice_timers(ledger)) == 1  # the spender's is still set
    await ledger.fire_timers(at + timedelta(days=366))
    assert await ledger.published(WILL_EXPIRE) == []
    await ledger.check_invariants()


async def test_a_lot_credited_after_its_days_announcement_is_announced_alone(
    ledger: Ledger,
) -> None:
    at = early_today()
    await ledger.deliver(ledger.activated("m-1", "late", at=at, window_days=None))
    [timer] = await notice_timers(ledger)
    await ledger.fire_timers(timer.due_at + timedelta(minutes=1))
    # Another lot expiring on the same day, credited after the day was announced (a late
    # event): the fired timer is armed again, and only the new lot is announced.
    await ledger.deliver(
        ledger.activated("m-2", "late", at=at + timedelta(hours=2), window_days=None)
    )
    [rearmed] = await notice_timers(ledger)
    assert rearmed.due_at == timer.due_at + timedelta(hours=2)
    await ledger.fire_timers(rearmed.due_at + timedelta(minutes=1))
    announced = await ledger.published(WILL_EXPIRE)
    assert [len(e.data["lots"]) for e in announced] == [1, 1]
    assert announced[0].data["lots"][0]["lot_id"] != announced[1].data["lots"][0]["lot_id"]


async def test_the_notice_is_a_tenant_setting(ledger: Ledger, api: Api) -> None:
    default = await api.client.get("/v1/rewards/settings", headers=api.operator("operator"))
    assert default.json() == {"expiry_notice_days": 7}
    put = await api.client.put(
        "/v1/rewards/settings", json={"expiry_notice_days": 30}, headers=api.operator("admin")
    )
    assert put.status_code == 200
    at = early_today()
    await ledger.deliver(ledger.activated("m-1", "a", at=at, window_days=None))
    [timer] = await notice_timers(ledger)
    assert timer.due_at == at + timedelta(days=365 - 30)
    off = await api.client.put(
        "/v1/rewards/settings", json={"expiry_notice_days": 0}, headers=api.operator("owner")
    )
    assert off.status_code == 200
    await ledger.deliver(ledger.activated("m-2", "b", at=at, window_days=None))
    assert len(await notice_timers(ledger)) == 1  # none for b
    for bad in ({"expiry_notice_days": -1}, {"expiry_notice_days": 91}, {}):
        refused = await api.client.put(
            "/v1/rewards/settings", json=bad, headers=api.operator("admin")
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
    operator = await api.client.put(
        "/v1/rewards/settings", json={"expiry_notice_days": 3}, headers=api.operator("operator")
    )
    assert operator.status_code == 403
