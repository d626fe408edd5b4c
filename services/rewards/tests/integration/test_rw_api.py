"""The rewards API over ASGI on SQLite and PostgreSQL: members see their own points,
operators adjust with an Idempotency-Key, tenants never meet, bad input is a 4xx problem."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx

from servicekit.tables import idempotency_keys

if TYPE_CHECKING:
    from conftest import Api, Ledger

PROBLEM = "application/problem+json"


async def adjust(api: Api, member: str, points: int, key: str, **extra: object) -> httpx.Response:
    return await api.client.post(
        "/v1/rewards/adjustments",
        json={"member_id": member, "points": points, "reason": "support ticket 42", **extra},
        headers=api.operator("operator", **{"Idempotency-Key": key}),
    )


async def test_member_summary_and_history(ledger: Ledger, api: Api) -> None:
    fresh = await api.client.get("/v1/rewards/me/summary", headers=api.member("nobody"))
    assert fresh.status_code == 200
    assert fresh.json()["available"] == 0 and fresh.json()["level"]["level"] == 1
    await ledger.deliver(ledger.activated("m-1", "crm-7", window_days=None))
    for i in range(4):
        await adjust(api, "crm-7", 1, f"k-{i}")
    summary = (await api.client.get("/v1/rewards/me/summary", headers=api.member("crm-7"))).json()
    assert summary["member_id"] == "crm-7"
    assert (summary["available"], summary["lifetime"]) == (14, 14)
    assert summary["level"] == {
        "level": 2,
        "name": "Lv2",
        "floor": 5,
        "next_level_at": 20,
        "points_to_next": 6,
        "percent": 60,
    }
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await api.client.get(
                "/v1/rewards/me/entries", params=params, headers=api.member("crm-7")
            )
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["kind"] for e in seen] == ["adjust"] * 4 + ["earn"]  # newest first
    assert sum(e["points"] for e in seen) == 14
    assert seen[-1]["rule_id"] == "join-bonus" and seen[-1]["rule_version"] == 1


async def test_adjustments_are_idempotent_and_never_overdraw(api: Api, ledger: Ledger) -> None:
    first = await adjust(api, "crm-1", 30, "same")
    again = await adjust(api, "crm-1", 30, "same")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await ledger.balances("crm-1") or {})["available"] == 30
    other = await adjust(api, "crm-1", 5, "same")  # same key, another request
    assert other.status_code == 422
    too_much = await adjust(api, "crm-1", -31, "debit-1")
    assert too_much.status_code == 409
    assert too_much.json()["available"] == 30
    retry = await adjust(api, "crm-1", -30, "debit-1")  # a refused key may be retried
    assert retry.status_code == 201
    async with ledger.engine.begin() as connection:  # the key's 24 h record has expired
        await connection.execute(idempotency_keys.delete())
    stale = await adjust(api, "crm-1", 30, "same")
    assert stale.status_code == 409 and stale.json()["type"].endswith("adjustment-exists")
    assert (await ledger.balances("crm-1") or {})["available"] == 0
    debited = await ledger.published("quanzi.rewards.points.debited.v1")
    assert [e.data["reason"] for e in debited] == ["support ticket 42 (by op-1)"]
    await ledger.check_invariants()


async def test_the_adjustments_trail_says_who_how_many_why_and_when(
    api: Api, ledger: Ledger
) -> None:
    await adjust(api, "crm-1", 30, "a-1", community_id="c-1")
    await adjust(api, "crm-2", 5, "a-2")
    await adjust(api, "crm-1", -10, "a-3")
    refused = await adjust(api, "crm-2", -99, "a-4")  # refused: not in the trail
    assert refused.status_code == 409
    await ledger.deliver(ledger.activated("m-1", "crm-1", window_days=None))  # an earning
    trail, cursor = [], None
    while True:
        page = await api.client.get(
            "/v1/rewards/adjustments",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=api.operator("activity_officer"),
        )
        assert page.status_code == 200, page.text
        trail += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [(a["member_id"], a["points"]) for a in trail] == [
        ("crm-1", -10),
        ("crm-2", 5),
        ("crm-1", 30),
    ]
    assert {a["actor_id"] for a in trail} == {"op-1"}
    assert trail[-1]["community_id"] == "c-1" and trail[-1]["reason"].startswith("support")
    mine = await api.client.get(
        "/v1/rewards/adjustments",
        params={"member_id": "crm-2"},
        headers=api.operator("activity_officer"),
    )
    assert [a["points"] for a in mine.json()["items"]] == [5]
    other_tenant = await api.client.get(
        "/v1/rewards/adjustments", headers=api.operator("owner", tenant_id="t-other")
    )
    assert other_tenant.status_code == 200 and other_tenant.json()["items"] == []
    member = await api.client.get("/v1/rewards/adjustments", headers=api.member("crm-1"))
    assert member.status_code == 403
    backwards = await api.client.get(
        "/v1/rewards/adjustments",
        params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        headers=api.operator("activity_officer"),
    )
    assert backwards.status_code == 422


async def test_concurrent_debits_never_spend_twice(api: Api, ledger: Ledger) -> None:
    await adjust(api, "crm-1", 100, "fund")
    answers = await asyncio.gather(*(adjust(api, "crm-1", -10, f"d-{i}") for i in range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 10 and all(s == 409 for s in statuses[10:]), statuses
    assert (await ledger.balances("crm-1") or {})["available"] == 0
    await ledger.check_invariants()


async def test_operators_see_members_of_their_own_tenant_only(api: Api, ledger: Ledger) -> None:
    await adjust(api, "crm-1", 7, "k")
    mine = await api.client.get(
        "/v1/rewards/members/crm-1/summary", headers=api.operator("activity_officer")
    )
    assert mine.status_code == 200 and mine.json()["available"] == 7
    foreign = await api.client.get(
        "/v1/rewards/members/crm-1/summary", headers=api.operator("owner", tenant_id="t-other")
    )
    assert foreign.status_code == 404 and foreign.headers["content-type"] == PROBLEM
    theirs = await api.client.get("/v1/rewards/me/summary", headers=api.member("crm-1", "t-other"))
    assert theirs.json()["available"] == 0


async def test_roles_and_token_types_are_enforced(api: Api) -> None:
    member = api.member("crm-1")
    checks = [
        ("GET", "/v1/rewards/members/crm-1/summary", member),
        ("GET", "/v1/rewards/me/summary", api.operator("owner")),
        ("GET", "/v1/rewards/me/entries", api.operator("owner")),
        ("POST", "/v1/rewards/adjustments", {**member, "Idempotency-Key": "k"}),
        (
            "POST",
            "/v1/rewards/adjustments",
            api.operator("content_officer", **{"Idempotency-Key": "k"}),
        ),
    ]
    for method, path, headers in checks:
        answer = await api.client.request(
            method, path, headers=headers, json={"member_id": "x", "points": 1, "reason": "r"}
        )
        assert answer.status_code == 403, (path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    anonymous = await api.client.get("/v1/rewards/me/summary")
    assert anonymous.status_code == 401


async def test_bad_input_is_a_clear_problem(api: Api, ledger: Ledger) -> None:
    headers = api.operator("admin", **{"Idempotency-Key": "k"})
    for bad in (
        {"member_id": "m", "points": 0, "reason": "r"},
        {"member_id": "m", "points": 10**9, "reason": "r"},
        {"member_id": "m", "points": "many", "reason": "r"},
        {"member_id": "", "points": 1, "reason": "r"},
        {"member_id": "m", "points": 1, "reason": "  "},
        {"member_id": "m", "points": 1},
        {"member_id": "m", "points": 1, "reason": "r", "extra": True},
    ):
        answer = await api.client.post("/v1/rewards/adjustments", json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    no_key = await api.client.post(
        "/v1/rewards/adjustments",
        json={"member_id": "m", "points": 1, "reason": "r"},
        headers=api.operator("admin"),
    )
    assert no_key.status_code == 400 and no_key.json()["type"].endswith("idempotency-key-required")
    bad_key = await adjust(api, "m", 1, "x" * 300)
    assert bad_key.status_code == 400
    for cursor in ("%%%", "WyJhIl0", "W10"):  # garbage, ["a"], []
        answer = await api.client.get(
            "/v1/rewards/me/entries", params={"cursor": cursor}, headers=api.member("m")
        )
        assert answer.status_code == 400, (cursor, answer.text)
    for limit in (0, 1000, "x"):
        answer = await api.client.get(
            "/v1/rewards/me/entries", params={"limit": limit}, headers=api.member("m")
        )
        assert answer.status_code == 422
    assert await ledger.balances("m") is None  # nothing half-written
