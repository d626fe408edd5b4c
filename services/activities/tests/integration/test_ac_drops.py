"""Point drops through the API on both backends: 200 members claim a drop of 50 shares at
once, exactly 50 land and their points sum to the total; a member's concurrent claims
land once; the expiry returns what is left once; claims after it are refused."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from activities import app as activities_app
from activities.drops import handlers as drops_handlers
from servicekit.contracts import Registry
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.timers import TimerRunner

from .conftest import AC, T0, TENANT

CLAIMED = "quanzi.activities.drop.claimed.v1"
EXPIRED = "quanzi.activities.drop.expired.v1"


async def new_drop(api: Any, **body: Any) -> dict[str, Any]:
    body = {"community_id": "c-1", "total_points": 1000, "slots": 50, "split": "random", **body}
    answer = await api.client.post(f"{AC}/drops", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def claim(api: Any, drop_id: str, member: str) -> Any:
    return await api.client.post(f"{AC}/drops/{drop_id}/claims", headers=api.member(member))


async def test_200_members_at_once_take_exactly_the_50_shares(api: Any) -> None:
    people = [f"m-{i:03d}" for i in range(200)]
    await api.deliver_batch(*(api.membership("activated", m) for m in people))
    drop = await new_drop(api, min_points=5)
    assert sum(drop["shares"]) == 1000 and min(drop["shares"]) >= 5
    answers = await asyncio.gather(*(claim(api, drop["id"], m) for m in people))
    codes = Counter(a.status_code for a in answers)
    assert codes == {201: 50, 409: 150}, codes
    won = [a.json() for a in answers if a.status_code == 201]
    assert sum(c["points"] for c in won) == 1000
    assert sorted(c["slot"] for c in won) == list(range(50))
    assert all(c["points"] == drop["shares"][c["slot"]] for c in won)
    events = await api.published(CLAIMED)
    assert len(events) == 50 and sum(e.data["points"] for e in events) == 1000
    assert {e.key for e in events} == {c["member_id"] for c in won}
    seen = await api.client.get(f"{AC}/drops/{drop['id']}", headers=api.member("m-000"))
    assert seen.json()["claimed"] == 50 and seen.json()["shares"] == drop["shares"]  # over


async def test_one_claim_per_member_even_at_once(api: Any) -> None:
    await api.seat("m-1")
    drop = await new_drop(api, total_points=30, slots=3, split="equal")
    answers = await asyncio.gather(*(claim(api, drop["id"], "m-1") for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 19
    assert (await claim(api, drop["id"], "stranger")).status_code == 404
    listed = await api.client.get(f"{AC}/drops/{drop['id']}/claims", headers=api.member("m-1"))
    assert [(c["member_id"], c["points"]) for c in listed.json()] == [("m-1", 10)]
    mine = await api.client.get(f"{AC}/drops/{drop['id']}", headers=api.member("m-1"))
    assert mine.json()["shares"] is None  # not over: members do not see what is to come


async def test_the_expiry_returns_what_is_left_once(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    drop = await new_drop(api, total_points=100, slots=4, split="equal", expires_in_minutes=60)
    for member in ("m-1", "m-2"):
        assert (await claim(api, drop["id"], member)).status_code == 201
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=T0 + timedelta(minutes=59)) == 0
    assert await runner.fire_due(now=T0 + timedelta(minutes=60)) == 1
    assert await runner.fire_due(now=T0 + timedelta(days=1)) == 0
    [expired] = await api.published(EXPIRED)
    assert expired.data["returned_points"] == 50 and expired.data["claims"] == 2
    assert expired.data["sender_id"] == "op-1"
    late = await claim(api, drop["id"], "m-3")
    assert late.status_code == 409 and late.json()["type"].endswith("drop-expired")
    api.at(T0 + timedelta(minutes=61))
    body = (await api.client.get(f"{AC}/drops/{drop['id']}", headers=api.operator())).json()
    assert body["returned_points"] == 50 and body["expired_at"] is not None


async def test_a_groups_drop_is_for_that_group_and_settings_are_checked(api: Any) -> None:
    await api.seat("m-1")  # in g-1
    await api.seat("m-2", group_id="g-2")
    drop = await new_drop(api, group_id="g-2", total_points=10, slots=2)
    assert (await claim(api, drop["id"], "m-1")).status_code == 404
    assert (await claim(api, drop["id"], "m-2")).status_code == 201
    bad = await api.client.post(
        f"{AC}/drops",
        json={
            "community_id": "c-1",
            "total_points": 10,
            "slots": 5,
            "split": "random",
            "min_points": 3,
        },
        headers=api.operator(),
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-drop")


CREATED = "quanzi.activities.drop.created.v1"


async def test_a_drop_announces_its_total_for_the_budget_and_each_claim_carries_it(
    api: Any,
) -> None:
    await api.seat("m-1")
    drop = await new_drop(api, total_points=90, slots=3, split="equal")
    [created] = await api.published(CREATED)
    assert created.data["total_points"] == 90 and created.data["drop_id"] == drop["id"]
    assert created.key == "c-1"  # about no one member: keyed by its community
    assert (await claim(api, drop["id"], "m-1")).status_code == 201
    [claimed] = await api.published(CLAIMED)
    assert claimed.data["drop_total"] == 90


async def test_a_drop_the_budget_refused_closes_at_once(api: Any) -> None:
    for member in ("m-1", "m-2"):
        await api.seat(member)
    drop = await new_drop(api, total_points=100, slots=4, split="equal")
    assert (await claim(api, drop["id"], "m-1")).status_code == 201
    refused = Event(
        type=drops_handlers.DROP_REFUSED,
        source="/rewards",
        tenant_id=TENANT,
        topic="rewards.points",
        key=drop["id"],
        time=T0 + timedelta(seconds=1),
        data={
            "tenant_id": TENANT,
            "drop_id": drop["id"],
            "community_id": "c-1",
            "total_points": 100,
            "available": 10,
            "refused_at": T0.isoformat(),
        },
    )
    Registry.load().validate(refused)
    assert drops_handlers.DROP_REFUSED in activities_app.LEVELS.handlers
    for _ in range(2):  # redelivered: closed once
        async with transaction(api.app.state.sessions) as session:
            await activities_app.LEVELS.handlers[drops_handlers.DROP_REFUSED](session, refused)
    late = await claim(api, drop["id"], "m-2")
    assert late.status_code == 409 and late.json()["type"].endswith("drop-expired")
    [expired] = await api.published(EXPIRED)
    assert expired.data["returned_points"] == 75
