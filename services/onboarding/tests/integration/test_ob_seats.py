"""Every member seated: invites route like codes, waiting is explicit and ends when a seat
opens, operators move members, members switch between interest and local groups."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import update

from onboarding.joins.seating import SEAT_TIMER, retry_seat
from onboarding.orm import Group
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"
GROUP_CHANGED = "quanzi.onboarding.membership.group_changed.v1"
GROUP_UPDATED = "quanzi.onboarding.group.updated.v1"


async def groups_of(onboarding: Onboarding, community_id: str) -> dict[str, dict[str, Any]]:
    answer = await onboarding.client.get(
        f"{BASE}/communities/{community_id}/groups", headers=onboarding.operator()
    )
    assert answer.status_code == 200, answer.text
    return {g["name"]: g for g in answer.json()["items"]}


async def post(onboarding: Onboarding, path: str, headers: dict[str, str], **body: Any) -> Any:
    return await onboarding.client.post(f"{BASE}{path}", json=body or None, headers=headers)


async def memberships(onboarding: Onboarding, community_id: str, **query: Any) -> list[Any]:
    answer = await onboarding.client.get(
        f"{BASE}/memberships",
        params={"community_id": community_id, "limit": 200, **query},
        headers=onboarding.operator(),
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_no_active_member_is_left_without_a_seat(onboarding: Onboarding) -> None:
    """Invites into a full group, invites carrying a routing code, code joins and overflow,
    concurrently: every active member sits in a group, none over capacity."""
    community = await onboarding.community(
        visibility="private",
        groups=[{"name": "1群", "capacity": 3}, {"name": "2群", "capacity": 3}],
    )
    cid = community["id"]
    groups = await groups_of(onboarding, cid)
    operator = onboarding.operator()
    code = await post(
        onboarding,
        "/routing-codes",
        operator,
        community_id=cid,
        code="spring",
        group_ids=[g["id"] for g in groups.values()],
        overflow_prefix="读书会 ",
        overflow_capacity=3,
    )
    assert code.status_code == 201, code.text
    target = await post(
        onboarding,
        "/invites",
        operator,
        community_id=cid,
        code="TOGROUP1",
        target_group_id=groups["1群"]["id"],
        max_uses=None,
        inviter_id=None,
    )
    plain = await post(
        onboarding, "/invites", operator, community_id=cid, code="PLAIN", max_uses=None
    )
    assert target.status_code == plain.status_code == 201

    def join(kind: str, i: int) -> Any:
        me = onboarding.member(f"{kind}-{i}")
        if kind == "target":
            return post(onboarding, "/invites/TOGROUP1/redeem", me)
        if kind == "both":
            return post(onboarding, "/invites/PLAIN/redeem", me, routing_code="spring")
        return post(onboarding, "/routing-codes/spring/join", me)

    joins = [join(kind, i) for i in range(8) for kind in ("target", "both", "code")]
    answers: list[httpx.Response] = await asyncio.gather(*joins)
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers if a.is_error]
    joined = [a.json() for a in answers]

    listed = await memberships(onboarding, cid, status="active")
    assert len(listed) == 24
    assert all(m["group_id"] is not None and m["seat_waiting_since"] is None for m in listed)
    assert await memberships(onboarding, cid, waiting="true") == []
    after = await groups_of(onboarding, cid)
    assert all(g["member_count"] <= g["capacity"] for g in after.values())
    assert sum(g["member_count"] for g in after.values()) == 24
    assert len(after) >= 8  # 2 groups of 3 and at least 6 overflow groups of 3
    both = [m for m in joined if m["member_id"].startswith("both-")]
    assert {m["source"]["kind"] for m in both} == {"invite"}  # attribution stays the invite
    assert {m["source"]["code"] for m in both} == {"PLAIN"}
    activated = await onboarding.events(ACTIVATED)
    assert len(activated) == 24
    assert not any(e.data["waiting_for_seat"] for e in activated)


async def test_waiting_is_explicit_listed_and_ends_when_a_seat_opens(
    onboarding: Onboarding,
) -> None:
    community = await onboarding.community(groups=[{"name": "VIP", "capacity": 1}])
    cid = community["id"]
    vip = (await groups_of(onboarding, cid))["VIP"]["id"]
    operator = onboarding.operator()
    await post(
        onboarding,
        "/invites",
        operator,
        community_id=cid,
        code="VIP",
        target_group_id=vip,
        max_uses=5,
    )
    first, second, third = [
        (await post(onboarding, "/invites/VIP/redeem", onboarding.member(m))).json()
        for m in ("a", "b", "c")
    ]
    assert first["group_id"] == vip and first["seat_waiting_since"] is None
    for late in (second, third):
        assert late["status"] == "active" and late["group_id"] is None
        assert late["seat_waiting_since"] is not None
    waiting = await memberships(onboarding, cid, waiting="true")
    assert [m["member_id"] for m in waiting] == ["b", "c"]
    flags = {
        e.data["member_id"]: e.data["waiting_for_seat"] for e in await onboarding.events(ACTIVATED)
    }
    assert flags == {"a": False, "b": True, "c": True}

    left = await post(onboarding, f"/communities/{cid}/leave", onboarding.member("a"))
    assert left.status_code == 200
    waiting = await memberships(onboarding, cid, waiting="true")
    assert [m["member_id"] for m in waiting] == ["c"]  # b waited longest: b got a's seat
    seated_b = await memberships(onboarding, cid, member_id="b")
    assert seated_b[0]["group_id"] == vip and seated_b[0]["seat_waiting_since"] is None
    changed = await onboarding.events(GROUP_CHANGED)
    assert [(e.data["member_id"], e.data["reason"], e.data["from_group_id"]) for e in changed] == [
        ("b", "seat_opened", None)
    ]
    assert (await groups_of(onboarding, cid))["VIP"]["member_count"] == 1

    grown = await onboarding.client.patch(
        f"{BASE}/communities/{cid}/groups/{vip}", json={"capacity": 3}, headers=operator
    )
    assert grown.status_code == 200, grown.text
    assert grown.json()["member_count"] == 2  # c, waiting, took one of the two new seats
    assert await memberships(onboarding, cid, waiting="true") == []
    changed = await onboarding.events(GROUP_CHANGED)
    assert [(e.data["member_id"], e.data["reason"]) for e in changed][-1] == ("c", "seat_opened")

    late = await post(onboarding, "/invites/VIP/redeem", onboarding.member("d"))
    assert late.json()["group_id"] == vip  # the last seat
    again = await post(onboarding, "/invites/VIP/redeem", onboarding.member("e"))
    assert again.json()["seat_waiting_since"] is not None
    waiting = await memberships(onboarding, cid, waiting="true")
    extra = await post(onboarding, f"/communities/{cid}/groups", operator, name="2群", capacity=5)
    assert extra.status_code == 201, extra.text
    moved = await post(
        onboarding, f"/memberships/{waiting[0]['id']}/move", operator, group_id=extra.json()["id"]
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["group_id"] == extra.json()["id"]
    assert moved.json()["seat_waiting_since"] is None
    assert await memberships(onboarding, cid, waiting="true") == []


async def test_operators_move_members_within_capacity_or_by_force(onboarding: Onboarding) -> None:
    groups = [
        {"name": "1群", "capacity": 2},
        {"name": "2群", "capacity": 1},
        {"name": "高阶", "capacity": 5, "min_level": 5},
    ]
    community = await onboarding.community(groups=groups)
    cid = community["id"]
    named = await groups_of(onboarding, cid)
    operator = onboarding.operator()
    for name, member in (("1群", "m1"), ("2群", "m2")):
        await post(
            onboarding,
            "/invites",
            operator,
            community_id=cid,
            code=f"TO{member}",
            target_group_id=named[name]["id"],
        )
        await post(onboarding, f"/invites/TO{member}/redeem", onboarding.member(member))
    m1 = (await memberships(onboarding, cid, member_id="m1"))[0]
    path = f"/memberships/{m1['id']}/move"

    full = await post(onboarding, path, operator, group_id=named["2群"]["id"])
    assert full.status_code == 409 and full.json()["type"].endswith("/group-full")
    level = await post(onboarding, path, operator, group_id=named["高阶"]["id"])
    assert level.status_code == 409 and level.json()["type"].endswith("/requirements-not-met")
    unknown = await post(onboarding, path, operator, group_id="no-such-group")
    assert unknown.status_code == 422
    assert (await post(onboarding, path, onboarding.member("m1"), group_id="x")).status_code == 403
    other = await post(onboarding, path, onboarding.operator("tenant-b"), group_id="x")
    assert other.status_code == 404
    same = await post(onboarding, path, operator, group_id=named["1群"]["id"])
    assert same.status_code == 200 and await onboarding.events(GROUP_CHANGED) == []

    forced = await post(onboarding, path, operator, group_id=named["2群"]["id"], force=True)
    assert forced.status_code == 200, forced.text
    assert forced.json()["group_id"] == named["2群"]["id"]
    after = await groups_of(onboarding, cid)
    assert after["1群"]["member_count"] == 0
    assert (after["2群"]["member_count"], after["2群"]["capacity"]) == (2, 2)  # grew by one
    grown = await onboarding.events(GROUP_UPDATED)
    assert grown[-1].data["group_id"] == named["2群"]["id"] and grown[-1].data["capacity"] == 2
    back = await post(onboarding, path, operator, group_id=named["1群"]["id"])
    assert back.status_code == 200
    changed = [e.data for e in await onboarding.events(GROUP_CHANGED)]
    assert [(c["reason"], c["forced"], c["actor_id"]) for c in changed] == [
        ("moved", True, "op-1"),
        ("moved", False, "op-1"),
    ]
    assert changed[1]["from_group_id"] == named["2群"]["id"]
    assert changed[1]["to_group_id"] == named["1群"]["id"]


async def test_members_switch_between_the_interest_groups_their_tier_allows(
    onboarding: Onboarding,
) -> None:
    groups = [
        {"name": "核心群", "capacity": 10},
        {"name": "读书", "kind": "interest", "capacity": 10},
        {"name": "上海", "kind": "local", "capacity": 1, "city": "上海"},
        {"name": "高阶读书", "kind": "interest", "capacity": 10, "min_level": 4},
    ]
    community = await onboarding.community(groups=groups)
    cid = community["id"]
    named = await groups_of(onboarding, cid)
    me = onboarding.member("reader")
    assert (await post(onboarding, f"/communities/{cid}/join", me)).status_code == 201
    path = f"/me/communities/{cid}/group"

    choices = await onboarding.client.get(f"{BASE}/me/communities/{cid}/groups", headers=me)
    assert choices.status_code == 200, choices.text
    assert {g["name"] for g in choices.json()["items"]} == {"读书", "上海"}

    switched = await post(onboarding, path, me, group_id=named["读书"]["id"])
    assert switched.status_code == 200, switched.text
    assert switched.json()["group_id"] == named["读书"]["id"]
    again = await post(onboarding, path, me, group_id=named["上海"]["id"])
    assert again.json()["group_id"] == named["上海"]["id"]
    after = await groups_of(onboarding, cid)
    assert after["读书"]["member_count"] == 0 and after["上海"]["member_count"] == 1

    core = await post(onboarding, path, me, group_id=named["核心群"]["id"])
    assert core.status_code == 403 and core.json()["type"].endswith("/group-not-switchable")
    gated = await post(onboarding, path, me, group_id=named["高阶读书"]["id"])
    assert gated.status_code == 403 and gated.json()["type"].endswith("/group-not-allowed")
    other = onboarding.member("other")
    await post(onboarding, f"/communities/{cid}/join", other)
    full = await post(onboarding, path, other, group_id=named["上海"]["id"])
    assert full.status_code == 409 and full.json()["type"].endswith("/group-full")
    stranger = await post(
        onboarding, path, onboarding.member("stranger"), group_id=named["读书"]["id"]
    )
    assert stranger.status_code == 404
    changed = [e.data for e in await onboarding.events(GROUP_CHANGED)]
    assert [(c["reason"], c["actor_id"], c["from_group_id"]) for c in changed] == [
        ("switched", "reader", None),
        ("switched", "reader", named["读书"]["id"]),
    ]


async def test_a_waiting_member_tries_once_more_after_their_join_commits(
    onboarding: Onboarding,
) -> None:
    """The race the retry closes: a seat freed by a transaction that could not yet see the
    member waiting (simulated: the count lowered behind the service's back)."""
    community = await onboarding.community(groups=[{"name": "VIP", "capacity": 1}])
    cid = community["id"]
    vip = (await groups_of(onboarding, cid))["VIP"]["id"]
    operator = onboarding.operator()
    await post(
        onboarding,
        "/invites",
        operator,
        community_id=cid,
        code="VIP",
        target_group_id=vip,
        max_uses=5,
    )
    await post(onboarding, "/invites/VIP/redeem", onboarding.member("first"))
    late = (await post(onboarding, "/invites/VIP/redeem", onboarding.member("late"))).json()
    assert late["seat_waiting_since"] is not None
    async with onboarding.sessions() as session, session.begin():
        await session.execute(update(Group).where(Group.id == vip).values(member_count=0))
    runner = TimerRunner(onboarding.sessions, {SEAT_TIMER: retry_seat})
    assert await runner.fire_due(utcnow()) == 1
    seated = (await memberships(onboarding, cid, member_id="late"))[0]
    assert seated["group_id"] == vip and seated["seat_waiting_since"] is None
    changed = await onboarding.events(GROUP_CHANGED)
    assert [(e.data["member_id"], e.data["reason"]) for e in changed] == [("late", "seat_opened")]
    assert await runner.fire_due(utcnow()) == 0  # fired once


async def test_the_default_routing_code_seats_ways_in_that_name_no_group(
    onboarding: Onboarding,
) -> None:
    community = await onboarding.community(groups=[{"name": "1群", "capacity": 1}])
    cid = community["id"]
    group = (await groups_of(onboarding, cid))["1群"]["id"]
    operator = onboarding.operator()
    code = await post(
        onboarding,
        "/routing-codes",
        operator,
        community_id=cid,
        code="main",
        group_ids=[group],
        overflow_prefix="读书会 ",
        overflow_capacity=2,
    )
    before = await post(onboarding, f"/communities/{cid}/join", onboarding.member("early"))
    assert before.json()["group_id"] is None and before.json()["seat_waiting_since"] is None

    url = f"{BASE}/communities/{cid}/default-routing-code"
    other = await onboarding.community(slug="other", groups=[{"name": "x"}])
    other_group = (await groups_of(onboarding, other["id"]))["x"]["id"]
    elsewhere = await post(
        onboarding,
        "/routing-codes",
        operator,
        community_id=other["id"],
        code="elsewhere",
        group_ids=[other_group],
        overflow_prefix="x",
    )
    mismatch = await onboarding.client.put(
        url, json={"routing_code_id": elsewhere.json()["id"]}, headers=operator
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["type"].endswith("/routing-code-mismatch")
    put = await onboarding.client.put(
        url, json={"routing_code_id": code.json()["id"]}, headers=operator
    )
    assert put.status_code == 200 and put.json() == {"routing_code_id": code.json()["id"]}
    assert (await onboarding.client.get(url, headers=operator)).json() == put.json()

    await post(onboarding, "/invites", operator, community_id=cid, code="NOGROUP", max_uses=None)
    direct = [
        (await post(onboarding, f"/communities/{cid}/join", onboarding.member(f"d-{i}"))).json()
        for i in range(2)
    ]
    invited = (await post(onboarding, "/invites/NOGROUP/redeem", onboarding.member("i-1"))).json()
    placed = [m["group_id"] for m in [*direct, invited]]
    assert placed[0] == group and all(placed)  # 1群, then overflow groups
    assert len(await groups_of(onboarding, cid)) >= 2
    assert await memberships(onboarding, cid, waiting="true") == []
