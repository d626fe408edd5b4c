"""The operator's points budget: funded through the API (an Idempotency-Key, audited as
entries), a drop's events reserve its total, pay each claim to its member once and
release what its expiry gives back; a drop the budget cannot cover is refused and never
paid; tenants never meet. The balances always equal the sums of the entries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from rewards.orm import budget_entries, budgets, entries, wallets
from servicekit.events import Event
from servicekit.testing import contracts

if TYPE_CHECKING:
    from conftest import Api, Ledger

TENANT = "t-acme"
T0 = datetime(2026, 12, 2, 4, tzinfo=UTC)
REFUSED = "quanzi.rewards.budget.drop_refused.v1"


def _event(kind: str, key: str, data: dict[str, Any], at: datetime = T0) -> Event:
    event = Event(
        type=f"quanzi.activities.drop.{kind}.v1",
        source="/activities",
        tenant_id=TENANT,
        topic="activities.campaigns",
        key=key,
        time=at,
        data={"tenant_id": TENANT, "community_id": "c-1", "sender_id": "op-1", **data},
    )
    contracts().validate(event)  # what activities may publish
    return event


def created(drop_id: str, total: int, slots: int = 3) -> Event:
    data = {
        "drop_id": drop_id,
        "group_id": None,
        "total_points": total,
        "slots": slots,
        "split": "random",
        "min_points": 1,
        "expires_at": (T0 + timedelta(hours=1)).isoformat(),
        "created_at": T0.isoformat(),
    }
    return _event("created", "c-1", data)


def claimed(drop_id: str, total: int, member_id: str, points: int, slot: int = 0) -> Event:
    data = {
        "drop_id": drop_id,
        "claim_id": str(uuid.uuid4()),
        "group_id": None,
        "member_id": member_id,
        "points": points,
        "drop_total": total,
        "slot": slot,
        "claimed_at": T0.isoformat(),
    }
    return _event("claimed", member_id, data)


def expired(drop_id: str, total: int, claimed_points: int, claims: int) -> Event:
    data = {
        "drop_id": drop_id,
        "total_points": total,
        "claimed_points": claimed_points,
        "claims": claims,
        "returned_points": total - claimed_points,
        "expired_at": (T0 + timedelta(hours=1)).isoformat(),
    }
    return _event("expired", "c-1", data, T0 + timedelta(hours=1))


async def fund(api: Api, points: int, key: str | None = None, tenant_id: str = TENANT) -> Any:
    headers = api.operator("owner", tenant_id=tenant_id, **{"Idempotency-Key": key or _key()})
    return await api.client.post(
        "/v1/rewards/budget/fundings", json={"points": points, "reason": "launch"}, headers=headers
    )


def _key() -> str:
    return str(uuid.uuid4())


async def budget_of(api: Api, tenant_id: str = TENANT) -> dict[str, int]:
    answer = await api.client.get(
        "/v1/rewards/budget", headers=api.operator("admin", tenant_id=tenant_id)
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def drop_credits(ledger: Ledger, member_id: str) -> list[int]:
    async with ledger.engine.connect() as connection:
        query = (
            select(entries.c.available_delta)
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(
                wallets.c.tenant_id == TENANT,
                wallets.c.member_id == member_id,
                entries.c.rule_id == "claimed-drop",
            )
            .order_by(entries.c.id)
        )
        return list((await connection.execute(query)).scalars())


async def check_budget_sums(ledger: Ledger) -> None:
    """Every budget equals the sums of its entries' deltas."""
    async with ledger.engine.connect() as connection:
        rows = (await connection.execute(select(budgets))).mappings().all()
        for row in rows:
            query = select(
                func.coalesce(func.sum(budget_entries.c.available_delta), 0),
                func.coalesce(func.sum(budget_entries.c.reserved_delta), 0),
            ).where(budget_entries.c.tenant_id == row["tenant_id"])
            available, reserved = (await connection.execute(query)).one()
            assert (row["available"], row["reserved"]) == (available, reserved), row


async def test_funding_is_idempotent_audited_and_a_withdrawal_never_overdraws(api: Api) -> None:
    key = _key()
    first = await fund(api, 500, key)
    again = await fund(api, 500, key)  # a retried request: the same answer, once
    assert first.status_code == again.status_code == 201, first.text
    assert (await budget_of(api))["available"] == 500
    too_much = await fund(api, -501)
    assert too_much.status_code == 409
    assert too_much.json()["type"].endswith("insufficient-budget")
    assert (await fund(api, -200)).status_code == 201
    assert await budget_of(api) == {"available": 300, "reserved": 0, "funded": 300, "paid": 0}
    page = await api.client.get("/v1/rewards/budget/entries", headers=api.operator("operator"))
    items = page.json()["items"]
    assert [(i["kind"], i["available_delta"], i["actor_id"]) for i in items] == [
        ("withdraw", -200, "op-1"),
        ("fund", 500, "op-1"),
    ]


async def test_bad_fundings_are_4xx_problems(api: Api) -> None:
    assert (await fund(api, 0)).status_code == 422
    member = api.member("m-1") | {"Idempotency-Key": _key()}
    answer = await api.client.post(
        "/v1/rewards/budget/fundings", json={"points": 5, "reason": "x"}, headers=member
    )
    assert answer.status_code == 403
    officer = api.operator("activity_officer", **{"Idempotency-Key": _key()})
    answer = await api.client.post(
        "/v1/rewards/budget/fundings", json={"points": 5, "reason": "x"}, headers=officer
    )
    assert answer.status_code == 403  # officers see the budget, owners and admins fund it
    assert (
        await api.client.get("/v1/rewards/budget", headers=api.member("m-1"))
    ).status_code == 403
    page = await api.client.get(
        "/v1/rewards/budget/entries?cursor=nonsense", headers=api.operator("owner")
    )
    assert page.status_code == 400


async def test_tenants_never_see_each_others_budget(api: Api, ledger: Ledger) -> None:
    assert (await fund(api, 300)).status_code == 201
    await ledger.deliver(created("d-1", 100))
    other = "t-other"
    assert await budget_of(api, other) == {"available": 0, "reserved": 0, "funded": 0, "paid": 0}
    page = await api.client.get(
        "/v1/rewards/budget/entries", headers=api.operator("owner", tenant_id=other)
    )
    assert page.status_code == 200 and page.json()["items"] == []
    mine = await api.client.get(
        "/v1/rewards/budget/entries?drop_id=d-1", headers=api.operator("owner")
    )
    assert [i["kind"] for i in mine.json()["items"]] == ["reserve"]


async def test_a_drop_reserves_pays_each_claim_once_and_releases_the_rest(
    api: Api, ledger: Ledger
) -> None:
    assert (await fund(api, 100)).status_code == 201
    first, second = claimed("d-1", 60, "m-1", 20), claimed("d-1", 60, "m-2", 25, 1)
    await ledger.deliver(created("d-1", 60))
    assert await budget_of(api) == {"available": 40, "reserved": 60, "funded": 100, "paid": 0}
    await ledger.deliver(first, second)
    await ledger.deliver(first)  # redelivered
    await ledger.deliver(expired("d-1", 60, 45, 2))
    assert await drop_credits(ledger, "m-1") == [20]
    assert await drop_credits(ledger, "m-2") == [25]
    assert await budget_of(api) == {"available": 55, "reserved": 0, "funded": 100, "paid": 45}
    assert await ledger.published(REFUSED) == []
    await ledger.check_invariants()
    await check_budget_sums(ledger)


async def test_events_in_any_order_land_the_same(api: Api, ledger: Ledger) -> None:
    """Claims are keyed by member, the drop's own events by community: a claim or the
    expiry may arrive before drop.created."""
    assert (await fund(api, 100)).status_code == 201
    await ledger.deliver(expired("d-1", 60, 45, 2), claimed("d-1", 60, "m-1", 45))
    await ledger.deliver(created("d-1", 60))
    assert await drop_credits(ledger, "m-1") == [45]
    assert await budget_of(api) == {"available": 55, "reserved": 0, "funded": 100, "paid": 45}
    await check_budget_sums(ledger)


async def test_a_drop_the_budget_cannot_cover_is_refused_and_its_claims_not_paid(
    api: Api, ledger: Ledger
) -> None:
    assert (await fund(api, 30)).status_code == 201
    await ledger.deliver(created("d-1", 50), claimed("d-1", 50, "m-1", 10))
    await ledger.deliver(expired("d-1", 50, 10, 1))
    assert await drop_credits(ledger, "m-1") == []
    assert await budget_of(api) == {"available": 30, "reserved": 0, "funded": 30, "paid": 0}
    refused = await ledger.published(REFUSED)  # validated against its contract
    assert [(e.data["drop_id"], e.data["total_points"], e.data["available"]) for e in refused] == [
        ("d-1", 50, 30)
    ]
    await check_budget_sums(ledger)
