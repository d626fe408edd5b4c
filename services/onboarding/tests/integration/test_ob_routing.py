"""Routing codes (群活码) under concurrent joins: never over capacity, everyone placed once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

from onboarding.joins.repository import JoinRepository

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"


async def test_concurrent_joins_never_overfill_groups(onboarding: Onboarding) -> None:
    groups = [{"name": f"{n}群", "capacity": 2} for n in (1, 2, 3)]
    community = await onboarding.community(groups=groups)
    listed = await onboarding.groups(community["id"])
    code = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": community["id"],
            "code": "spring",
            "group_ids": [g["id"] for g in listed],
            "overflow_prefix": "读书会 溢出",
            "overflow_capacity": 2,
            "channel": "moments",
        },
    )
    assert code.status_code == 201, code.text

    async def join(i: int) -> dict[str, object]:
        answer = await onboarding.client.post(
            f"{BASE}/routing-codes/spring/join", headers=onboarding.member(f"crm-{i}")
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    joined = await asyncio.gather(*(join(i) for i in range(20)))
    assert sorted(m["member_id"] for m in joined) == sorted(f"crm-{i}" for i in range(20))
    after = await onboarding.groups(community["id"])
    assert all(g["member_count"] <= g["capacity"] for g in after)
    placed = Counter(m["group_id"] for m in joined)
    assert placed == {g["id"]: g["member_count"] for g in after if g["member_count"]}
    assert sum(placed.values()) == 20
    assert len(after) == 10  # 3 groups of 2, then 7 overflow groups of 2
    assert {g["name"] for g in after if g["routing_code_id"]} == {
        f"读书会 溢出{n}" for n in range(1, 8)
    }
    full = await onboarding.events("quanzi.onboarding.group.full.v1")
    assert len(full) == 10
    again = await onboarding.client.post(
        f"{BASE}/routing-codes/spring/join", headers=onboarding.member("crm-0")
    )
    assert again.status_code == 200  # placed once: a repeated scan changes nothing


async def test_a_codes_loads_skip_its_full_overflow_groups_not_its_listed_ones(
    onboarding: Onboarding,
) -> None:
    """A code that has run for months opened hundreds of overflow groups: a join reads the
    groups it lists, full or not (they decide how many to keep open and what an overflow
    group copies), and only the overflow groups with room."""
    community = await onboarding.community(groups=[{"name": "listed", "capacity": 1}])
    listed_id = (await onboarding.groups(community["id"]))[0]["id"]
    created = await _code(
        onboarding, community["id"], "months", overflow_prefix="more-", overflow_capacity=2
    )
    for i in range(4):  # the listed group, then overflow groups of two seats, opened on demand
        answer = await onboarding.client.post(
            f"{BASE}/routing-codes/months/join", headers=onboarding.member(f"m-{i}")
        )
        assert answer.status_code == 201, answer.text
    groups = await onboarding.groups(community["id"])
    with_room = {g["id"] for g in groups if g["member_count"] < g["capacity"]}
    assert len(groups) == 3 and len(with_room) == 1  # listed 1/1, more-1 2/2, more-2 1/2
    async with onboarding.sessions() as session:
        repo = JoinRepository(session)
        code = await repo.routing_code_by_id(onboarding.tenant, str(created["id"]))
        assert code is not None
        loads = await repo.group_loads(code)
    assert {load.group_id for load in loads} == {listed_id, *with_room}
    assert next(load for load in loads if load.group_id == listed_id).has_room is False


async def test_leaving_frees_the_seat(onboarding: Onboarding) -> None:
    community = await onboarding.community(groups=[{"name": "only", "capacity": 1}])
    group_id = (await onboarding.groups(community["id"]))[0]["id"]
    await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": community["id"],
            "code": "one-seat",
            "group_ids": [group_id],
            "overflow_prefix": "more-",
        },
    )
    first = await onboarding.client.post(
        f"{BASE}/routing-codes/one-seat/join", headers=onboarding.member("a")
    )
    assert first.json()["group_id"] == group_id
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("a")
    )
    second = await onboarding.client.post(
        f"{BASE}/routing-codes/one-seat/join", headers=onboarding.member("b")
    )
    assert second.json()["group_id"] == group_id  # the freed seat, not an overflow group
    unknown = await onboarding.client.post(
        f"{BASE}/routing-codes/nope/join", headers=onboarding.member("b")
    )
    assert unknown.status_code == 404
    bad_groups = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": community["id"],
            "code": "bad-groups",
            "group_ids": ["not-a-group"],
            "overflow_prefix": "x",
        },
    )
    assert bad_groups.status_code == 422


async def _code(
    onboarding: Onboarding, community_id: str, code: str, **fields: object
) -> dict[str, object]:
    """A routing code over every group of the community."""
    groups = await onboarding.groups(community_id)
    made = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": community_id,
            "code": code,
            "group_ids": [g["id"] for g in groups],
            "overflow_prefix": "溢出",
            **fields,
        },
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_routing_codes_are_listed_by_page_and_by_community(onboarding: Onboarding) -> None:
    first = await onboarding.community(slug="first-club", groups=[{"name": "1群"}])
    second = await onboarding.community(slug="second-club", groups=[{"name": "1群"}])
    made = [
        await _code(onboarding, first["id"], "poster-a"),
        await _code(onboarding, second["id"], "poster-b"),
        await _code(onboarding, first["id"], "poster-c"),
    ]
    url = f"{BASE}/routing-codes"
    page = await onboarding.client.get(url, params={"limit": 2}, headers=onboarding.operator())
    assert page.status_code == 200, page.text
    assert [c["code"] for c in page.json()["items"]] == ["poster-a", "poster-b"]
    rest = await onboarding.client.get(
        url,
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=onboarding.operator(),
    )
    assert [c["code"] for c in rest.json()["items"]] == ["poster-c"]
    assert rest.json()["next_cursor"] is None
    only_first = await onboarding.client.get(
        url, params={"community_id": first["id"]}, headers=onboarding.operator()
    )
    assert [c["id"] for c in only_first.json()["items"]] == [made[0]["id"], made[2]["id"]]
    # A CRM's read-scoped key reads them; a member and a payments-only key do not.
    reader = await onboarding.client.get(url, headers=onboarding.payments(scope="read"))
    assert reader.status_code == 200 and len(reader.json()["items"]) == 3
    for refused in (onboarding.member("crm-1"), onboarding.payments()):
        assert (await onboarding.client.get(url, headers=refused)).status_code == 403


async def test_groups_are_listed_by_page(onboarding: Onboarding) -> None:
    community = await onboarding.community(groups=[{"name": f"{n}群"} for n in (1, 2, 3)])
    url = f"{BASE}/communities/{community['id']}/groups"
    page = await onboarding.client.get(url, params={"limit": 2}, headers=onboarding.operator())
    assert [g["name"] for g in page.json()["items"]] == ["1群", "2群"]
    rest = await onboarding.client.get(
        url,
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=onboarding.operator(),
    )
    assert [g["name"] for g in rest.json()["items"]] == ["3群"]
    assert rest.json()["next_cursor"] is None
