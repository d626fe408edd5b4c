"""Onboarding's events through the rewards handlers and timers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rewards.leaderboards.repository import BoardRepository
from rewards.orm import entries, score_days, score_totals, score_windows, wallets
from rewards.points.handlers import expire_due
from rewards.zones.domain import Zones
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.tables import timers
from servicekit.timers import Timer
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

CREDITED = "quanzi.rewards.points.credited.v1"


async def test_activation_credits_join_bonus_and_referral_pending(ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "newbie", inviter_id="host"))
    assert await ledger.balances("newbie") == {
        "available": 0,
        "pending": 10,
        "lifetime": 10,
        "debt": 0,
        "level": 2,
    }
    assert await ledger.balances("host") == {
        "available": 0,
        "pending": 20,
        "lifetime": 20,
        "debt": 0,
        "level": 3,
    }
    credited = await ledger.published(CREDITED)  # validated against the contracts
    assert sorted((e.key, e.data["rule_id"], e.data["pending_delta"]) for e in credited) == [
        ("host", "referral", 20),
        ("newbie", "join-bonus", 10),
    ]
    levels = await ledger.published("quanzi.rewards.level.changed.v1")
    assert {(e.key, e.data["direction"], e.data["level"]) for e in levels} == {
        ("newbie", "up", 2),
        ("host", "up", 3),
    }
    await ledger.check_invariants()


async def test_a_membership_activated_again_pays_its_bonuses_once(ledger: Ledger) -> None:
    # Onboarding activates a membership again when a trial turns into a paid term:
    # a new event id, the same membership.
    await ledger.deliver(ledger.activated("m-1", "newbie", inviter_id="host"))
    await ledger.deliver(ledger.activated("m-1", "newbie", inviter_id="host"))
    assert (await ledger.balances("newbie"))["lifetime"] == 10
    assert (await ledger.balances("host"))["lifetime"] == 20
    await ledger.check_invariants()


async def test_redelivery_and_replay_change_nothing(ledger: Ledger) -> None:
    history = [
        ledger.activated("m-1", "a", inviter_id="host"),
        ledger.activated("m-2", "b", inviter_id="host", window_days=None),
        ledger.refunded("m-1", "a"),
    ]
    await ledger.deliver(*history)
    await ledger.deliver(history[1])  # the same event id again
    before = {m: await ledger.balances(m) for m in ("a", "b", "host")}
    published = len(await ledger.published())
    await ledger.deliver(*history)  # a replay from offset 0
    assert {m: await ledger.balances(m) for m in ("a", "b", "host")} == before
    assert len(await ledger.published()) == published  # and no event twice
    assert before["b"] == {"available": 10, "pending": 0, "lifetime": 10, "debt": 0, "level": 2}
    assert before["host"] is not None and before["host"]["available"] == 20  # only m-2's referral
    await ledger.check_invariants()


async def test_refund_inside_the_window_reverses_both_and_drops_levels(ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "newbie", inviter_id="host"))
    await ledger.deliver(ledger.refunded("m-1", "newbie"))
    for member in ("newbie", "host"):
        assert await ledger.balances(member) == {
            "available": 0,
            "pending": 0,
            "lifetime": 0,
            "debt": 0,
            "level": 1,
        }
    reversed_ = await ledger.published("quanzi.rewards.points.reversed.v1")
    assert sorted(e.data["pending_delta"] for e in reversed_) == [-20, -10]
    downs = [
        e
        for e in await ledger.published("quanzi.rewards.level.changed.v1")
        if e.data["direction"] == "down"
    ]
    assert {e.key for e in downs} == {"newbie", "host"}
    # The reversed lots' release timers are gone: nothing is released later.
    assert await ledger.fire_timers(utcnow() + timedelta(days=4)) == 0
    await ledger.check_invariants()


async def test_pending_points_are_released_when_the_window_ends(ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "newbie", inviter_id="host"))
    assert await ledger.fire_timers(utcnow() + timedelta(days=2)) == 0  # not due
    assert await ledger.fire_timers(utcnow() + timedelta(days=3, minutes=1)) == 2
    assert await ledger.balances("newbie") == {
        "available": 10,
        "pending": 0,
        "lifetime": 10,
        "debt": 0,
        "level": 2,
    }
    assert len(await ledger.published("quanzi.rewards.points.released.v1")) == 2
    await ledger.check_invariants()


async def test_refund_after_spending_claws_back_then_records_debt(ledger: Ledger, api: Api) -> None:
    await ledger.deliver(ledger.activated("m-1", "host-joined", window_days=None))  # 10, available
    await ledger.deliver(ledger.activated("m-2", "newbie", inviter_id="host-joined"))  # 20 pending
    await ledger.fire_timers(utcnow() + timedelta(days=4))  # the 20 are available
    spent = await api.client.post(
        "/v1/rewards/adjustments",
        json={"member_id": "host-joined", "points": -25, "reason": "gift sent by hand"},
        headers=api.operator("owner", **{"Idempotency-Key": "k-1"}),
    )
    assert spent.status_code == 201, spent.text
    # m-2 is refunded although its 20 referral points were spent: 5 are left to claw
    # back, 15 become debt; lifetime drops by 20.
    await ledger.deliver(ledger.refunded("m-2", "newbie"))
    assert await ledger.balances("host-joined") == {
        "available": 0,
        "pending": 0,
        "lifetime": 10,
        "debt": 15,
        "level": 2,
    }
    await ledger.deliver(
        ledger.activated("m-3", "friend", inviter_id="host-joined", window_days=None)
    )
    assert await ledger.balances("host-joined") == {  # the next 20 pay the debt first
        "available": 5,
        "pending": 0,
        "lifetime": 30,
        "debt": 0,
        "level": 3,
    }
    await ledger.check_invariants()


async def test_expiry_timer_takes_what_is_left(ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "newbie", window_days=None))
    due = await _timers(ledger, "rewards.expire")
    assert len(due) == 1
    await ledger.fire_timers(utcnow() + timedelta(days=366))
    assert await ledger.balances("newbie") == {
        "available": 0,
        "pending": 0,
        "lifetime": 10,
        "debt": 0,
        "level": 2,
    }
    [expired] = await ledger.published("quanzi.rewards.points.expired.v1")
    assert expired.data["available_delta"] == -10
    # A late duplicate of the timer is a no-op.
    async with ledger.sessions() as session, session.begin():
        await expire_due(session, due[0])
    await ledger.check_invariants()


async def test_tenants_are_kept_apart(ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "same-id", tenant_id="t-one", window_days=None))
    await ledger.deliver(
        ledger.refunded("m-1", "same-id", tenant_id="t-two")
    )  # another tenant's m-1
    assert (await ledger.balances("same-id", "t-one") or {})["available"] == 10
    assert await ledger.balances("same-id", "t-two") is None


async def _timers(ledger: Ledger, kind: str) -> list[Timer]:
    async with ledger.engine.connect() as connection:
        rows = (
            (await connection.execute(select(timers).where(timers.c.kind == kind))).mappings().all()
        )
    return [Timer(**{k: row[k] for k in Timer.__dataclass_fields__}) for row in rows]


async def test_a_batch_credits_exactly_as_one_event_at_a_time(ledger: Ledger) -> None:
    """The same history for two tenants: one applied event by event, the other as one
    consumer batch (caps reached inside the batch, a member earning twice, a month
    boundary). Same wallets, entries, leaderboard rows and events, in the same order."""
    start = utcnow().replace(day=1, hour=12) - timedelta(days=20)  # spans a month start
    history = []
    for n in range(50):
        member = f"m{n % 30}"  # twenty members join twice
        inviter = "host" if n % 3 else None  # 34 referrals: the 400/month cap bites
        window = None if n % 4 else 3
        history.append((f"ms-{n}", member, inviter, start + timedelta(hours=9 * n), window))

    def events(tenant_id: str) -> list[Event]:
        return [
            ledger.activated(m, member, inviter_id=i, at=at, window_days=w, tenant_id=tenant_id)
            for m, member, i, at, w in history
        ]

    today = Zones().today(None, utcnow())  # the default zone's: neither tenant has one
    for tenant_id in ("t-one", "t-two"):  # rolling windows kept through the writes too
        async with transaction(ledger.sessions) as session:
            for scope in ("", "c-1"):
                await BoardRepository(session).rebuild_windows(tenant_id, scope, today)
    await ledger.deliver(*events("t-one"))
    batch = events("t-two")
    await ledger.deliver_batch(*batch)
    await ledger.deliver_batch(*batch)  # the whole batch redelivered: nothing changes
    one, two = await _ledger_of(ledger, "t-one"), await _ledger_of(ledger, "t-two")
    assert one == two
    assert one["wallets"]["host"]["lifetime"] < 34 * 20  # capped, not vacuous
    assert one["scores"]["score_windows"] and len(one["events"]) > 100
    await ledger.check_invariants()


async def _ledger_of(ledger: Ledger, tenant_id: str) -> dict[str, Any]:
    async with ledger.engine.connect() as connection:
        rows = await connection.execute(
            select(wallets.c.member_id, entries)
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(entries.c.tenant_id == tenant_id)
            .order_by(entries.c.id)
        )
        found_entries = [
            {k: v for k, v in row.items() if k not in ("id", "wallet_id", "lot_id", "tenant_id")}
            | {"idempotency_key": row["idempotency_key"].split(":", 1)[-1]}
            for row in rows.mappings()
        ]
        scores = {}
        for table in (score_days, score_totals, score_windows):
            query = select(table).where(table.c.tenant_id == tenant_id)
            scores[table.name] = sorted(
                tuple(v for k, v in row.items() if k != "tenant_id")
                for row in (await connection.execute(query)).mappings()
            )
    published = [
        (e.type, e.key, {k: v for k, v in e.data.items() if k not in _VARYING})
        for e in await ledger.published()
        if e.tenant_id == tenant_id
    ]
    return {
        "wallets": await ledger.all_balances(tenant_id),
        "entries": found_entries,
        "scores": scores,
        # Badges are evaluated after the batch's credits (rewards.badges): the same
        # awards, not interleaved with the ledger's events the way one by one puts them.
        "events": [p for p in published if p[0] != BADGE_AWARDED],
        "badges": sorted((p for p in published if p[0] == BADGE_AWARDED), key=repr),
    }


_VARYING = {"tenant_id", "entry_key", "changed_at", "event_id", "awarded_at"}  # ids, clocks
BADGE_AWARDED = "quanzi.rewards.badge.awarded.v1"
