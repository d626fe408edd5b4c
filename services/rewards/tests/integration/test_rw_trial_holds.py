"""A trial's join points through the consumer's handlers and the timers, on SQLite and
PostgreSQL: held until the trial is paid, then pending through that payment's refund
window; reversed, each reversal naming its entry, when the trial ends unpaid; the same
in any order of the membership's events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rewards.orm import entries, lots, membership_outcomes, wallets
from servicekit.events import Event
from servicekit.tables import timers
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

TENANT = "t-acme"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"
REVERSED = "quanzi.rewards.points.reversed.v1"
NOTHING = {"available": 0, "pending": 0, "lifetime": 0, "debt": 0, "level": 1}


def event(what: str, member_id: str, at: datetime | None = None, **data: Any) -> Event:
    at = at or utcnow()
    return Event(
        type=f"quanzi.onboarding.membership.{what}.v1",
        source="/onboarding",
        tenant_id=TENANT,
        topic="onboarding.memberships",
        key=member_id,
        time=at,
        data={"tenant_id": TENANT, "member_id": member_id, "community_id": "c-1", **data},
    )


def trial_started(membership_id: str, member_id: str, inviter_id: str | None = None) -> Event:
    at = utcnow()
    ends = (at + timedelta(days=7)).isoformat()
    return event(
        "activated",
        member_id,
        at,
        membership_id=membership_id,
        tier="trial",
        activated_at=at.isoformat(),
        term_ends_at=ends,
        refund_window_ends_at=None,
        trial_ends_at=ends,
        previous_tier=None,
        source={"kind": "invite" if inviter_id else "open", "inviter_id": inviter_id},
    )


def trial_paid(
    membership_id: str, member_id: str, window: datetime, inviter_id: str | None = None
) -> Event:
    at = utcnow()
    return event(
        "activated",
        member_id,
        at,
        membership_id=membership_id,
        tier="core",
        activated_at=at.isoformat(),
        term_ends_at=(at + timedelta(days=365)).isoformat(),
        refund_window_ends_at=window.isoformat(),
        trial_ends_at=None,
        previous_tier="trial",
        source={"kind": "invite" if inviter_id else "open", "inviter_id": inviter_id},
    )


def ended(what: str, membership_id: str, member_id: str, tier: str = "trial") -> Event:
    at = utcnow().isoformat()
    return event(what, member_id, membership_id=membership_id, tier=tier, **{f"{what}_at": at})


async def lot_rows(ledger: Ledger, member_id: str) -> list[dict[str, Any]]:
    async with ledger.engine.connect() as connection:
        query = (
            select(lots)
            .join(wallets, wallets.c.id == lots.c.wallet_id)
            .where(wallets.c.member_id == member_id)
        )
        return [dict(row) for row in (await connection.execute(query)).mappings()]


async def entry_rows(ledger: Ledger, member_id: str) -> list[dict[str, Any]]:
    async with ledger.engine.connect() as connection:
        query = (
            select(entries)
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(wallets.c.member_id == member_id)
            .order_by(entries.c.id)
        )
        return [dict(row) for row in (await connection.execute(query)).mappings()]


async def release_timers(ledger: Ledger) -> list[datetime]:
    async with ledger.engine.connect() as connection:
        query = select(timers.c.due_at).where(timers.c.kind == "rewards.release")
        return [due for (due,) in await connection.execute(query)]


def pending(points: int, level: int = 1) -> dict[str, int]:
    return {"available": 0, "pending": points, "lifetime": points, "debt": 0, "level": level}


async def test_a_trial_holds_its_join_points_until_it_is_paid(ledger: Ledger) -> None:
    await ledger.deliver(trial_started("m-1", "newbie", inviter_id="host"))
    assert await ledger.balances("newbie") == pending(10, level=2)
    assert await ledger.balances("host") == pending(20, level=3)
    # Held: pending with no release time, so no timer, however late it gets.
    assert [lot["available_at"] for lot in await lot_rows(ledger, "newbie")] == [None]
    assert await release_timers(ledger) == []
    assert await ledger.fire_timers(utcnow() + timedelta(days=300)) == 0
    assert await ledger.balances("newbie") == pending(10, level=2)

    window = utcnow() + timedelta(hours=72)
    await ledger.deliver(trial_paid("m-1", "newbie", window, inviter_id="host"))
    assert await ledger.balances("newbie") == pending(10, level=2)  # paid once, not twice
    assert await ledger.balances("host") == pending(20, level=3)
    for member in ("newbie", "host"):
        assert [lot["available_at"] for lot in await lot_rows(ledger, member)] == [window]
    assert await ledger.fire_timers(window - timedelta(minutes=1)) == 0  # inside the window
    assert await ledger.fire_timers(window) == 2
    assert (await ledger.balances("newbie") or {})["available"] == 10
    assert (await ledger.balances("host") or {})["available"] == 20
    await ledger.check_invariants()


async def test_a_trial_that_ends_unpaid_reverses_its_join_points(ledger: Ledger, api: Api) -> None:
    await ledger.deliver(trial_started("m-1", "newbie", inviter_id="host"))
    await ledger.deliver(ended("expired", "m-1", "newbie"))
    assert await ledger.balances("newbie") == NOTHING
    assert await ledger.balances("host") == NOTHING
    # Each reversal names the credit it takes back: in the ledger, the event, the history.
    newbie_entries = await entry_rows(ledger, "newbie")
    earned, reversal = newbie_entries
    assert (earned["kind"], reversal["kind"]) == ("earn", "reverse")
    assert reversal["reverses_entry_id"] == earned["id"]
    published = await ledger.published(REVERSED)
    assert {e.data["reverses_entry_key"] for e in published} == {
        "join-bonus:membership_id=m-1",
        "referral:membership_id=m-1",
    }
    mine = next(e for e in published if e.key == "newbie")
    assert mine.data["reverses_entry_id"] == earned["id"]
    assert mine.data["reason"] == "trial ended unpaid (expired)"
    history = await api.client.get("/v1/rewards/me/entries", headers=api.member("newbie"))
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [(i["kind"], i["reverses_entry_id"]) for i in items] == [
        ("reverse", earned["id"]),
        ("earn", None),
    ]
    # Redelivered, or a late activation: nothing more, nothing back.
    await ledger.deliver(ended("expired", "m-1", "newbie"), trial_started("m-1", "newbie"))
    assert await ledger.balances("newbie") == NOTHING
    assert len(await ledger.published(REVERSED)) == 2
    await ledger.check_invariants()


async def test_leaving_or_being_removed_during_the_trial_reverses_too(ledger: Ledger) -> None:
    await ledger.deliver(trial_started("m-1", "a"), trial_started("m-2", "b"))
    await ledger.deliver(ended("left", "m-1", "a"), ended("removed", "m-2", "b"))
    assert await ledger.balances("a") == NOTHING == await ledger.balances("b")
    reasons = {e.data["reason"] for e in await ledger.published(REVERSED)}
    assert reasons == {"trial ended unpaid (left)", "trial ended unpaid (removed)"}


async def test_a_paid_membership_that_ends_keeps_its_points(ledger: Ledger) -> None:
    window = utcnow() + timedelta(hours=72)
    await ledger.deliver(trial_started("m-1", "a"), trial_paid("m-1", "a", window))
    await ledger.deliver(ended("left", "m-1", "a", tier="core"))
    await ledger.deliver(ended("expired", "m-1", "a", tier="core"))
    assert await ledger.balances("a") == pending(10, level=2)
    assert await ledger.published(REVERSED) == []


async def test_events_out_of_order_end_as_in_order(ledger: Ledger) -> None:
    window = utcnow() + timedelta(hours=72)
    # The payment's activation before the trial's (a late activation): pending until the
    # window, the trial's activation pays nothing more and holds nothing.
    await ledger.deliver(trial_paid("m-1", "a", window, inviter_id="host"))
    await ledger.deliver(trial_started("m-1", "a", inviter_id="host"))
    assert await ledger.balances("a") == pending(10, level=2)
    assert [lot["available_at"] for lot in await lot_rows(ledger, "a")] == [window]
    # The end of a trial before its activation: the activation credits nothing.
    await ledger.deliver(ended("expired", "m-2", "b"))
    await ledger.deliver(trial_started("m-2", "b", inviter_id="host"))
    assert await ledger.balances("b") is None
    # A refund before the activation it refunds: nothing either.
    await ledger.deliver(ledger.refunded("m-3", "c"))
    await ledger.deliver(ledger.activated("m-3", "c", inviter_id="host"))
    assert await ledger.balances("c") is None
    assert await ledger.balances("host") == pending(20, level=3)  # only m-1's referral
    await ledger.check_invariants()


async def test_in_one_batch_as_one_by_one(ledger: Ledger) -> None:
    window = utcnow() + timedelta(hours=72)
    await ledger.deliver_batch(
        trial_started("m-1", "a", inviter_id="host"),
        trial_paid("m-1", "a", window, inviter_id="host"),
        trial_started("m-2", "b", inviter_id="host"),
    )
    assert await ledger.balances("a") == pending(10, level=2)
    assert [lot["available_at"] for lot in await lot_rows(ledger, "a")] == [window]
    assert [lot["available_at"] for lot in await lot_rows(ledger, "b")] == [None]
    assert sorted(await release_timers(ledger)) == [window, window]  # a's and m-1's referral
    async with ledger.engine.connect() as connection:
        known = (await connection.execute(select(membership_outcomes))).mappings().all()
    assert [(row["membership_id"], row["paid_window_ends_at"]) for row in known] == [
        ("m-1", window)
    ]
    await ledger.check_invariants()


async def test_a_refund_names_the_entries_it_reverses(ledger: Ledger, api: Api) -> None:
    await ledger.deliver(ledger.activated("m-1", "newbie", inviter_id="host"))
    await ledger.deliver(ledger.refunded("m-1", "newbie"))
    host = await entry_rows(ledger, "host")
    assert [(e["kind"], e["reverses_entry_id"]) for e in host] == [
        ("earn", None),
        ("reverse", host[0]["id"]),
    ]
    history = await api.client.get("/v1/rewards/me/entries", headers=api.member("host"))
    assert history.json()["items"][0]["reverses_entry_id"] == host[0]["id"]
    [reversal] = [e for e in await ledger.published(REVERSED) if e.key == "host"]
    assert reversal.data["reverses_entry_key"] == "referral:membership_id=m-1"
    assert reversal.data["reason"] == "membership refunded"
