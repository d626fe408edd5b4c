"""The points mall over ASGI on SQLite and PostgreSQL: never oversold, never overspent,
limits hold under concurrency, one redemption per Idempotency-Key, cancel gives back."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from rewards.orm import catalog_items, redemptions
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

PROBLEM = "application/problem+json"
REQUESTED = "quanzi.rewards.redemption.requested.v1"
CANCELLED = "quanzi.rewards.redemption.cancelled.v1"


async def new_item(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Mug", "kind": "physical", "cost": 10, "stock": 10, **fields}
    answer = await api.client.post(
        "/v1/rewards/mall/items", json=body, headers=api.operator("operator")
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def fund(api: Api, member: str, points: int) -> None:
    answer = await api.client.post(
        "/v1/rewards/adjustments",
        json={"member_id": member, "points": points, "reason": "welcome gift"},
        headers=api.operator("owner", **{"Idempotency-Key": f"fund-{member}-{points}"}),
    )
    assert answer.status_code == 201, answer.text


async def redeem(api: Api, member: str, item_id: str, key: str, **body: Any) -> httpx.Response:
    return await api.client.post(
        f"/v1/rewards/catalog/{item_id}/redeem",
        json=body or None,
        headers={**api.member(member), "Idempotency-Key": key},
    )


async def stock_of(ledger: Ledger, item_id: str) -> int:
    async with ledger.engine.connect() as connection:
        query = select(catalog_items.c.stock).where(catalog_items.c.id == item_id)
        return int((await connection.execute(query)).scalar_one())


async def count_redemptions(ledger: Ledger) -> Counter[str]:
    async with ledger.engine.connect() as connection:
        rows = (await connection.execute(select(redemptions.c.status))).scalars().all()
    return Counter(rows)


async def test_fifty_concurrent_redemptions_of_ten_units(api: Api, ledger: Ledger) -> None:
    members = [f"crm-{i}" for i in range(50)]
    # Everyone can afford it: 10 points each, available at once (no refund window).
    await ledger.deliver(
        *(ledger.activated(f"m-{i}", m, window_days=None) for i, m in enumerate(members))
    )
    item = await new_item(api, cost=10, stock=10)
    answers = await asyncio.gather(*(redeem(api, m, item["id"], f"k-{m}") for m in members))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 10, 409: 40}, statuses
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {
        "https://quanzi.dev/problems/out-of-stock"
    }
    assert await stock_of(ledger, item["id"]) == 0
    winners = {a.json()["member_id"] for a in answers if a.status_code == 201}
    balances = await ledger.all_balances()
    for member in members:
        assert balances[member]["available"] == (0 if member in winners else 10), member
        assert balances[member]["lifetime"] == 10  # spending never lowers the level
    assert await count_redemptions(ledger) == {"requested": 10}
    published = Counter(event.type for event in await ledger.published())
    assert published[REQUESTED] == published["quanzi.rewards.points.debited.v1"] == 10
    await ledger.check_invariants()


async def test_one_key_is_one_redemption_even_at_once(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 100)
    item = await new_item(api, cost=30, stock=5)
    first, second = await asyncio.gather(
        redeem(api, "crm-1", item["id"], "same", note="Room 301"),
        redeem(api, "crm-1", item["id"], "same", note="Room 301"),
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    replayed = [a.headers.get("Idempotent-Replayed") for a in (first, second)]
    assert replayed.count("true") == 1
    again = await redeem(api, "crm-1", item["id"], "same", note="Room 301")
    assert again.json()["id"] == first.json()["id"]
    other = await redeem(api, "crm-1", item["id"], "same", note="another address")
    assert other.status_code == 422  # same key, another request
    assert await stock_of(ledger, item["id"]) == 4
    assert (await ledger.balances("crm-1") or {})["available"] == 70
    # Another member's identical key is their own request, not a replay of crm-1's.
    await fund(api, "crm-2", 30)
    theirs = await redeem(api, "crm-2", item["id"], "same", note="Room 301")
    assert theirs.status_code == 201 and theirs.json()["member_id"] == "crm-2"
    await ledger.check_invariants()


async def test_per_member_limit_holds_under_concurrency(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 100)
    item = await new_item(api, cost=10, stock=10, per_member_limit=2)
    answers = await asyncio.gather(*(redeem(api, "crm-1", item["id"], f"k-{i}") for i in range(8)))
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 2, 409: 6}, statuses
    refused = {a.json()["type"].rsplit("/", 1)[1] for a in answers if a.status_code == 409}
    assert refused == {"redemption-limit-reached"}
    assert (await ledger.balances("crm-1") or {})["available"] == 80
    assert await stock_of(ledger, item["id"]) == 8
    await ledger.check_invariants()


async def test_concurrent_redemptions_never_overspend(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 25)
    item = await new_item(api, cost=10, stock=100)
    answers = await asyncio.gather(*(redeem(api, "crm-1", item["id"], f"k-{i}") for i in range(6)))
    assert Counter(a.status_code for a in answers) == {201: 2, 409: 4}
    assert (await ledger.balances("crm-1") or {})["available"] == 5
    assert await stock_of(ledger, item["id"]) == 98  # refused redemptions took no stock
    await ledger.check_invariants()


async def test_refusals_are_problems_and_take_nothing(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 10)  # level 2
    cases = [
        ({"cost": 11}, "insufficient-points"),
        ({"min_level": 3}, "level-too-low"),
        ({"stock": 0}, "out-of-stock"),
        ({"active_from": (utcnow() + timedelta(days=1)).isoformat()}, "item-unavailable"),
    ]
    for fields, slug in cases:
        item = await new_item(api, **fields)
        answer = await redeem(api, "crm-1", item["id"], f"k-{slug}")
        assert answer.status_code == 409, (fields, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["type"].endswith(slug)
    assert (await ledger.balances("crm-1") or {})["available"] == 10
    nobody = await redeem(api, "crm-none", (await new_item(api))["id"], "k")
    assert nobody.status_code == 409 and nobody.json()["type"].endswith("insufficient-points")
    assert await count_redemptions(ledger) == {}


async def test_cancel_gives_points_and_stock_back_fulfil_is_final(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 50)
    item = await new_item(api, cost=20, stock=3)
    one = (await redeem(api, "crm-1", item["id"], "k-1")).json()
    two = (await redeem(api, "crm-1", item["id"], "k-2")).json()
    assert (await ledger.balances("crm-1") or {})["available"] == 10
    ops = api.operator("admin")
    base = "/v1/rewards/mall/redemptions"
    cancelled = await api.client.post(
        f"{base}/{one['id']}/cancel", json={"reason": "warehouse empty"}, headers=ops
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["closed_by"] == "op-1"
    balances = await ledger.balances("crm-1") or {}
    assert (balances["available"], balances["lifetime"]) == (30, 50)
    assert await stock_of(ledger, item["id"]) == 2
    again = await api.client.post(f"{base}/{one['id']}/cancel", json={"reason": "x"}, headers=ops)
    assert again.status_code == 200  # a retry changes nothing
    assert (await ledger.balances("crm-1") or {})["available"] == 30
    fulfil = await api.client.post(f"{base}/{one['id']}/fulfil", json={}, headers=ops)
    assert fulfil.status_code == 409 and fulfil.json()["type"].endswith("redemption-closed")
    done = await api.client.post(
        f"{base}/{two['id']}/fulfil", json={"reference": "SF123"}, headers=ops
    )
    assert done.status_code == 200 and done.json()["reference"] == "SF123"
    late = await api.client.post(f"{base}/{two['id']}/cancel", json={"reason": "x"}, headers=ops)
    assert late.status_code == 409
    assert await stock_of(ledger, item["id"]) == 2
    [restored] = [
        e
        for e in await ledger.published("quanzi.rewards.points.credited.v1")
        if e.data["kind"] == "restore"
    ]
    assert restored.data["available_delta"] == 20 and restored.data["lifetime_delta"] == 0
    assert len(await ledger.published(CANCELLED)) == 1
    fulfilled = await ledger.published("quanzi.rewards.redemption.fulfilled.v1")
    assert [e.data["reference"] for e in fulfilled] == ["SF123"]
    mine = await api.client.get("/v1/rewards/me/redemptions", headers=api.member("crm-1"))
    assert [r["status"] for r in mine.json()["items"]] == ["fulfilled", "cancelled"]
    await ledger.check_invariants()


async def test_concurrent_fulfil_and_cancel_close_once(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 20)
    item = await new_item(api, cost=20, stock=1)
    redemption = (await redeem(api, "crm-1", item["id"], "k")).json()
    base = f"/v1/rewards/mall/redemptions/{redemption['id']}"
    ops = api.operator("operator")
    answers = await asyncio.gather(
        api.client.post(f"{base}/fulfil", json={}, headers=ops),
        api.client.post(f"{base}/cancel", json={"reason": "r"}, headers=ops),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    status = (await count_redemptions(ledger)).most_common(1)[0][0]
    expected = (20, 1) if status == "cancelled" else (0, 0)
    available = (await ledger.balances("crm-1") or {})["available"]
    assert (available, await stock_of(ledger, item["id"])) == expected
    await ledger.check_invariants()


async def test_catalog_for_members_and_operators(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 100)
    mug = await new_item(api, name="Mug", per_member_limit=1)
    await new_item(api, name="Badge", community_id="c-2", kind="privilege", min_level=9)
    await new_item(api, name="Old", active_until=(utcnow() - timedelta(days=1)).isoformat())
    hidden = await new_item(api, name="Gone")
    gone = await api.client.delete(
        f"/v1/rewards/mall/items/{hidden['id']}", headers=api.operator("owner")
    )
    assert gone.status_code == 204
    await redeem(api, "crm-1", mug["id"], "k")
    member = api.member("crm-1")
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await api.client.get("/v1/rewards/catalog", params=params, headers=member)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(i["name"], i["eligible"], i["left_for_me"]) for i in seen] == [
        ("Mug", True, 0),
        ("Badge", False, None),
    ]
    assert seen[0]["stock"] == 9 and seen[0]["redeemed_by_me"] == 1
    only_c1 = await api.client.get(
        "/v1/rewards/catalog", params={"community_id": "c-1"}, headers=member
    )
    assert [i["name"] for i in only_c1.json()["items"]] == ["Mug"]
    everything = await api.client.get("/v1/rewards/mall/items", headers=api.operator("admin"))
    assert len(everything.json()["items"]) == 4
    assert (await redeem(api, "crm-1", hidden["id"], "k2")).status_code == 404
    patched = await api.client.patch(
        f"/v1/rewards/mall/items/{mug['id']}",
        json={"stock": 50, "per_member_limit": None, "archived": False},
        headers=api.operator("operator"),
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["stock"], patched.json()["per_member_limit"]) == (50, None)
    assert (await redeem(api, "crm-1", mug["id"], "k3")).status_code == 201


async def test_tenants_never_meet_in_the_mall(api: Api, ledger: Ledger) -> None:
    await fund(api, "crm-1", 100)
    item = await new_item(api)
    redemption = (await redeem(api, "crm-1", item["id"], "k")).json()
    other = "t-other"
    their_ops = api.operator("owner", tenant_id=other)
    checks = [
        ("GET", f"/v1/rewards/mall/items/{item['id']}", their_ops, None),
        ("PATCH", f"/v1/rewards/mall/items/{item['id']}", their_ops, {"stock": 0}),
        ("DELETE", f"/v1/rewards/mall/items/{item['id']}", their_ops, None),
        ("GET", f"/v1/rewards/mall/redemptions/{redemption['id']}", their_ops, None),
        ("POST", f"/v1/rewards/mall/redemptions/{redemption['id']}/fulfil", their_ops, {}),
        (
            "POST",
            f"/v1/rewards/mall/redemptions/{redemption['id']}/cancel",
            their_ops,
            {"reason": "r"},
        ),
        ("GET", f"/v1/rewards/catalog/{item['id']}", api.member("crm-1", other), None),
        ("GET", f"/v1/rewards/me/redemptions/{redemption['id']}", api.member("crm-2"), None),
    ]
    for method, path, headers, body in checks:
        answer = await api.client.request(method, path, headers=headers, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    foreign = await api.client.post(
        f"/v1/rewards/catalog/{item['id']}/redeem",
        headers={**api.member("crm-1", other), "Idempotency-Key": "k"},
    )
    assert foreign.status_code == 404
    listed = await api.client.get("/v1/rewards/mall/redemptions", headers=their_ops)
    assert listed.json()["items"] == []
    assert await stock_of(ledger, item["id"]) == 9


async def test_roles_in_the_mall(api: Api) -> None:
    item = await new_item(api)
    member = api.member("crm-1")
    officer = api.operator("content_officer")
    checks = [
        ("POST", "/v1/rewards/mall/items", member),
        ("POST", "/v1/rewards/mall/items", officer),
        ("PATCH", f"/v1/rewards/mall/items/{item['id']}", officer),
        ("GET", "/v1/rewards/mall/redemptions", member),
        ("GET", "/v1/rewards/catalog", api.operator("owner")),
        ("POST", f"/v1/rewards/catalog/{item['id']}/redeem", api.operator("owner")),
    ]
    for method, path, headers in checks:
        answer = await api.client.request(method, path, headers=headers, json={})
        assert answer.status_code == 403, (method, path, answer.text)
    readable = await api.client.get("/v1/rewards/mall/items", headers=officer)
    assert readable.status_code == 200


async def test_bad_mall_input_is_a_clear_problem(api: Api, ledger: Ledger) -> None:
    ops = api.operator("admin")
    good = {"name": "Mug", "kind": "physical", "cost": 10, "stock": 1}
    for bad in (
        {**good, "kind": "car"},
        {**good, "cost": 0},
        {**good, "stock": -1},
        {**good, "name": " "},
        {**good, "per_member_limit": 0},
        {**good, "active_from": "2026-01-01T00:00:00"},  # naive: whose midnight?
        {**good, "active_until": "9999-12-31T23:00:00-05:00"},
        {**good, "extra": 1},
        {"name": "Mug"},
    ):
        answer = await api.client.post("/v1/rewards/mall/items", json=bad, headers=ops)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    window = {**good, "active_from": "2026-02-01T00:00:00Z", "active_until": "2026-01-01T00:00Z"}
    answer = await api.client.post("/v1/rewards/mall/items", json=window, headers=ops)
    assert answer.status_code == 422 and answer.json()["type"].endswith("invalid-window")
    item = await new_item(api, active_until="2030-01-01T00:00:00Z")
    path = f"/v1/rewards/mall/items/{item['id']}"
    for bad in ({"cost": None}, {"active_from": "2031-01-01T00:00:00Z"}, {"stock": "x"}):
        answer = await api.client.patch(path, json=bad, headers=ops)
        assert answer.status_code == 422, (bad, answer.text)
    for path, status in (
        ("/v1/rewards/mall/items/not%20an%20id", 422),
        ("/v1/rewards/mall/items/a%00b", 400),  # a control character: servicekit.text
    ):
        answer = await api.client.get(path, headers=ops)
        assert answer.status_code == status, answer.text
    missing = await api.client.get(f"/v1/rewards/mall/items/{'0' * 36}", headers=ops)
    assert missing.status_code == 404
    member = api.member("crm-1")
    no_key = await api.client.post(f"/v1/rewards/catalog/{item['id']}/redeem", headers=member)
    assert no_key.status_code == 400 and no_key.json()["type"].endswith("idempotency-key-required")
    assert (await redeem(api, "crm-1", item["id"], "k" * 201)).status_code == 400
    long_note = await redeem(api, "crm-1", item["id"], "k", note="x" * 501)
    assert long_note.status_code == 422
    for params in ({"status": "lost"}, {"cursor": "%%%"}, {"limit": 0}):
        answer = await api.client.get("/v1/rewards/mall/redemptions", params=params, headers=ops)
        assert answer.status_code in (400, 422), (params, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    assert await ledger.balances("crm-1") is None


async def test_nul_bytes_and_tampered_cursors_are_4xx_not_500(api: Api) -> None:
    """PostgreSQL refuses NUL in text; such input must never get that far."""
    ops = api.operator("owner", **{"Idempotency-Key": "k"})
    posts = [
        ("/v1/rewards/adjustments", {"member_id": "a\x00", "points": 1, "reason": "r"}),
        ("/v1/rewards/adjustments", {"member_id": "a", "points": 1, "reason": "r\x00"}),
        ("/v1/rewards/mall/items", {"name": "a\x00", "kind": "coupon", "cost": 1, "stock": 1}),
    ]
    for path, body in posts:
        answer = await api.client.post(path, json=body, headers=ops)
        assert answer.status_code == 422, (body, answer.text)
    gets = [
        ("/v1/rewards/members/a%00b/summary", {}, ops),
        ("/v1/rewards/catalog", {"community_id": "c\x00"}, api.member("m")),
        ("/v1/rewards/mall/redemptions", {"member_id": "m\x00"}, ops),
        ("/v1/rewards/mall/redemptions", {"item_id": "i\x00"}, ops),
    ]
    for cursor in ('["2026-01-01T00:00:00","x"]', '["2026-01-01T00:00:00Z","x\\u0000"]'):
        token = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
        gets.append(("/v1/rewards/mall/items", {"cursor": token}, ops))
        gets.append(("/v1/rewards/me/redemptions", {"cursor": token}, api.member("m")))
    for path, params, headers in gets:
        answer = await api.client.get(path, params=params, headers=headers)
        assert answer.status_code in (400, 422), (path, params, answer.text)
        assert answer.headers["content-type"] == PROBLEM
