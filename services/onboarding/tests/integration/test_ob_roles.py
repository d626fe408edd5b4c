"""Community roles and titles, mentors in turn, the welcome, and authorization by role."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from onboarding.directory.handlers import on_member_identified
from onboarding.events import MEMBER_IDENTIFIED
from servicekit.db import transaction
from servicekit.events import new_event

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
GRANTED = "quanzi.onboarding.role.granted.v1"
REVOKED = "quanzi.onboarding.role.revoked.v1"
WELCOMED = "quanzi.onboarding.member.welcomed.v1"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"


async def join(onboarding: Onboarding, community_id: str, member: str) -> dict[str, Any]:
    answer = await onboarding.client.post(
        f"{BASE}/communities/{community_id}/join", headers=onboarding.member(member)
    )
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


async def grant(
    onboarding: Onboarding,
    community_id: str,
    member: str,
    role: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/roles",
        json={"member_id": member, "role": role, **extra},
        headers=headers or onboarding.operator(),
    )


async def revoke(
    onboarding: Onboarding,
    community_id: str,
    grant_id: str,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/roles/{grant_id}/revoke",
        json=body,
        headers=headers or onboarding.operator(),
    )


async def identify(onboarding: Onboarding, member: str, name: str) -> None:
    """The directory learns the member's name, as gateway.member.identified would tell it."""
    event = new_event(
        type=MEMBER_IDENTIFIED,
        source="/gateway",
        tenant_id=onboarding.tenant,
        topic="gateway.members",
        data={"external_id": member, "profile": {"display_name": name}},
    )
    async with transaction(onboarding.sessions) as session:
        await on_member_identified(session, event)


async def audit_actions(onboarding: Onboarding, community_id: str) -> list[str]:
    answer = await onboarding.client.get(
        f"{BASE}/audit", params={"community_id": community_id}, headers=onboarding.operator()
    )
    assert answer.status_code == 200, answer.text
    return [item["action"] for item in answer.json()["items"]]


async def test_grant_and_revoke_with_events_and_audit(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "crm-1")

    granted = await grant(onboarding, cid, "crm-1", "mentor", reason="老会员")
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert (body["role"], body["member_id"], body["granted_by"]) == ("mentor", "crm-1", "op-1")
    assert body["revoked_at"] is None
    again = await grant(onboarding, cid, "crm-1", "mentor")
    assert again.status_code == 200 and again.json()["id"] == body["id"]  # idempotent
    [event] = await onboarding.events(GRANTED)
    assert event.key == "crm-1" and event.topic == "onboarding.memberships"
    assert (event.data["grant_id"], event.data["role"], event.data["reason"]) == (
        body["id"],
        "mentor",
        "老会员",
    )

    listed = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles", headers=onboarding.operator()
    )
    assert [g["id"] for g in listed.json()["items"]] == [body["id"]]

    revoked = await revoke(onboarding, cid, body["id"], reason="轮换")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_by"] == "op-1" and revoked.json()["revoke_reason"] == "轮换"
    assert (await revoke(onboarding, cid, body["id"])).status_code == 200  # already ended
    [ended] = await onboarding.events(REVOKED)
    assert ended.data["seat_lost"] is False and ended.data["revoked_by"] == "op-1"
    active = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles", headers=onboarding.operator()
    )
    assert active.json()["items"] == []
    history = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles", params={"active": "false"}, headers=onboarding.operator()
    )
    assert [g["revoked_at"] is not None for g in history.json()["items"]] == [True]
    actions = await audit_actions(onboarding, cid)
    assert actions.count("role.granted") == 1 and actions.count("role.revoked") == 1


async def test_titles_are_roles_with_a_text(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "crm-1")
    first = await grant(onboarding, cid, "crm-1", "title", title="首席读书官")
    second = await grant(onboarding, cid, "crm-1", "title", title="首席吐槽官")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    same = await grant(onboarding, cid, "crm-1", "title", title=" 首席读书官 ")
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    assert [e.data["title"] for e in await onboarding.events(GRANTED)] == [
        "首席读书官",
        "首席吐槽官",
    ]
    mine = await onboarding.client.get(f"{BASE}/me/roles", headers=onboarding.member("crm-1"))
    assert mine.status_code == 200
    assert sorted(g["title"] for g in mine.json()["items"]) == ["首席吐槽官", "首席读书官"]
    page = await onboarding.client.get(
        f"{BASE}/me/roles", params={"limit": 1}, headers=onboarding.member("crm-1")
    )
    rest = await onboarding.client.get(
        f"{BASE}/me/roles",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=onboarding.member("crm-1"),
    )
    assert len(page.json()["items"]) == len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None
    assert page.json()["items"][0]["id"] != rest.json()["items"][0]["id"]


async def test_guest_speaker_limit_holds_under_concurrent_grants(onboarding: Onboarding) -> None:
    community = await onboarding.community(guest_speaker_limit=2)
    cid = community["id"]
    assert community["guest_speaker_limit"] == 2
    for i in range(5):
        await join(onboarding, cid, f"crm-{i}")
    answers = await asyncio.gather(
        *(grant(onboarding, cid, f"crm-{i}", "guest_speaker") for i in range(5))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 201, 409, 409, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["type"].endswith("/role-limit-reached")
    assert refused.headers["content-type"] == "application/problem+json"
    assert len(await onboarding.events(GRANTED)) == 2
    # Revoking one opens a place.
    holder = next(a for a in answers if a.status_code == 201).json()
    await revoke(onboarding, cid, holder["id"])
    waiting = next(a for a in answers if a.status_code == 409)
    index = answers.index(waiting)
    assert (await grant(onboarding, cid, f"crm-{index}", "guest_speaker")).status_code == 201


async def test_regional_leader_leads_a_local_group(onboarding: Onboarding) -> None:
    groups = [{"name": "杭州分舵", "kind": "local"}, {"name": "1群", "kind": "core"}]
    community = await onboarding.community(groups=groups)
    cid = community["id"]
    other = await onboarding.community(
        slug="other-club", groups=[{"name": "上海", "kind": "local"}]
    )
    listed = await onboarding.client.get(
        f"{BASE}/communities/{cid}/groups", headers=onboarding.operator()
    )
    by_name = {g["name"]: g["id"] for g in listed.json()["items"]}
    elsewhere = await onboarding.client.get(
        f"{BASE}/communities/{other['id']}/groups", headers=onboarding.operator()
    )
    await join(onboarding, cid, "crm-1")
    for group_id in (by_name["1群"], elsewhere.json()["items"][0]["id"], "no-such-group"):
        refused = await grant(onboarding, cid, "crm-1", "regional_leader", group_id=group_id)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/not-a-local-group")
    missing = await grant(onboarding, cid, "crm-1", "regional_leader")
    assert missing.status_code == 422
    led = await grant(onboarding, cid, "crm-1", "regional_leader", group_id=by_name["杭州分舵"])
    assert led.status_code == 201 and led.json()["group_id"] == by_name["杭州分舵"]
    [event] = await onboarding.events(GRANTED)
    assert event.data["group_id"] == by_name["杭州分舵"]


async def test_roles_need_a_seat_and_end_with_it(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    outsider = await grant(onboarding, cid, "stranger", "mentor")
    assert outsider.status_code == 409 and outsider.json()["type"].endswith("/not-a-member")
    await join(onboarding, cid, "crm-1")
    await grant(onboarding, cid, "crm-1", "mentor")
    await grant(onboarding, cid, "crm-1", "title", title="首席官")
    left = await onboarding.client.post(
        f"{BASE}/communities/{cid}/leave", headers=onboarding.member("crm-1")
    )
    assert left.status_code == 200
    ended = await onboarding.events(REVOKED)
    assert len(ended) == 2
    assert all(e.data["seat_lost"] and e.data["revoked_by"] == "system" for e in ended)
    assert {e.data["reason"] for e in ended} == {"membership left"}
    mine = await onboarding.client.get(f"{BASE}/me/roles", headers=onboarding.member("crm-1"))
    assert mine.json()["items"] == []
    assert (await grant(onboarding, cid, "crm-1", "mentor")).status_code == 409
    assert (await audit_actions(onboarding, cid)).count("role.revoked") == 2


async def test_refund_ends_roles_too(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community()
    cid = community["id"]
    paid = await onboarding.pay(cid, "crm-1", "p1")
    assert paid.status_code in (200, 201), paid.text
    await grant(onboarding, cid, "crm-1", "guest_speaker")
    membership_id = paid.json()["membership"]["id"]
    refunded = await onboarding.client.post(
        f"{BASE}/memberships/{membership_id}/refund", json={}, headers=onboarding.operator()
    )
    assert refunded.status_code == 200, refunded.text
    [ended] = await onboarding.events(REVOKED)
    assert ended.data["reason"] == "membership refunded" and ended.data["seat_lost"] is True


async def test_mentors_take_newcomers_in_turn(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    mentors = ("mentor-a", "mentor-b", "mentor-c")
    for mentor in mentors:
        await join(onboarding, cid, mentor)
    for mentor in mentors:
        assert (await grant(onboarding, cid, mentor, "mentor")).status_code == 201
    assigned = [(await join(onboarding, cid, f"new-{i}"))["mentor_id"] for i in range(4)]
    assert assigned == ["mentor-a", "mentor-b", "mentor-c", "mentor-a"]
    # mentor-b steps down: the turn goes on from where it was, skipping nobody else.
    grants = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles",
        params={"member_id": "mentor-b"},
        headers=onboarding.operator(),
    )
    await revoke(onboarding, cid, grants.json()["items"][0]["id"])
    more = [(await join(onboarding, cid, f"late-{i}"))["mentor_id"] for i in range(3)]
    assert more == ["mentor-c", "mentor-a", "mentor-c"]
    activated = {
        e.data["member_id"]: e.data["mentor_id"] for e in await onboarding.events(ACTIVATED)
    }
    assert activated["new-1"] == "mentor-b" and activated["mentor-a"] is None
    # A mentee keeps the mentor who stepped down (no reassignment).
    kept = await onboarding.client.get(
        f"{BASE}/memberships", params={"member_id": "new-1"}, headers=onboarding.operator()
    )
    assert kept.json()["items"][0]["mentor_id"] == "mentor-b"


async def test_concurrent_newcomers_are_shared_evenly(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    for mentor in ("mentor-a", "mentor-b"):
        await join(onboarding, cid, mentor)
    for mentor in ("mentor-a", "mentor-b"):
        await grant(onboarding, cid, mentor, "mentor")
    joined = await asyncio.gather(*(join(onboarding, cid, f"new-{i}") for i in range(6)))
    mentors = [m["mentor_id"] for m in joined]
    assert sorted(mentors) == ["mentor-a"] * 3 + ["mentor-b"] * 3


async def test_welcome_event_carries_the_rendered_greeting(onboarding: Onboarding) -> None:
    community = await onboarding.community(groups=[{"name": "读书会 1群"}])
    cid = community["id"]
    groups = await onboarding.client.get(
        f"{BASE}/communities/{cid}/groups", headers=onboarding.operator()
    )
    code = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": cid,
            "code": "hello",
            "group_ids": [groups.json()["items"][0]["id"]],
            "overflow_prefix": "溢出",
            "channel": "moments",
        },
    )
    assert code.status_code == 201, code.text
    template = "欢迎{member_name}加入{community_name}·{group_name}！导师{mentor_name}会带你。"
    put = await onboarding.client.put(
        f"{BASE}/communities/{cid}/welcome",
        json={"template": template},
        headers=onboarding.operator(),
    )
    assert put.status_code == 200 and put.json() == {
        "template": template,
        "custom": True,
        "placeholders": ["community_name", "group_name", "member_name", "mentor_name"],
    }
    await identify(onboarding, "mentor-a", "老周")
    await join(onboarding, cid, "mentor-a")
    await grant(onboarding, cid, "mentor-a", "mentor")
    await identify(onboarding, "crm-1", "小林")
    joined = await onboarding.client.post(
        f"{BASE}/routing-codes/hello/join", headers=onboarding.member("crm-1")
    )
    assert joined.status_code == 201, joined.text
    welcomed = [e for e in await onboarding.events(WELCOMED) if e.data["member_id"] == "crm-1"]
    [event] = welcomed
    assert event.key == "crm-1" and event.topic == "onboarding.memberships"
    assert event.data["text"] == "欢迎小林加入读书会·读书会 1群！导师老周会带你。"
    assert event.data["display_name"] == "小林" and event.data["mentor_name"] == "老周"
    assert event.data["community_name"] == "读书会" and event.data["group_name"] == "读书会 1群"
    assert event.data["membership_id"] == joined.json()["id"]
    assert (
        event.data["mentor_id"] == "mentor-a"
        and event.data["group_id"] == joined.json()["group_id"]
    )
    assert event.data["source"] == {
        "kind": "routing_code",
        "code": "hello",
        "channel": "moments",
        "inviter_id": None,
    }
    all_events = await onboarding.events()
    types = [e.type for e in all_events if e.key == "crm-1"]
    assert types.index(ACTIVATED) < types.index(WELCOMED)  # welcomed after activated
    # The default greeting, for a member the directory has no name for.
    reset = await onboarding.client.put(
        f"{BASE}/communities/{cid}/welcome", json={"template": None}, headers=onboarding.operator()
    )
    assert reset.json()["custom"] is False
    await join(onboarding, cid, "crm-2")
    [default] = [e for e in await onboarding.events(WELCOMED) if e.data["member_id"] == "crm-2"]
    assert (
        default.data["text"] == "欢迎 新朋友 加入读书会！" and default.data["display_name"] is None
    )
    assert "community.welcome_template_set" in await audit_actions(onboarding, cid)


async def test_trial_to_paid_keeps_the_mentor_and_is_not_welcomed_again(
    onboarding: Onboarding,
) -> None:
    community = await onboarding.paid_community(trial_days=7, term_days=30)
    cid = community["id"]
    await onboarding.pay(cid, "mentor-a", "p-m")
    await grant(onboarding, cid, "mentor-a", "mentor")
    trial = await join(onboarding, cid, "crm-1")
    assert trial["status"] == "trial" and trial["mentor_id"] == "mentor-a"
    await onboarding.pay(cid, "mentor-b-to-be", "p-b")
    await grant(onboarding, cid, "mentor-b-to-be", "mentor")
    paid = await onboarding.pay(cid, "crm-1", "p1")
    assert paid.json()["membership"]["mentor_id"] == "mentor-a"
    activations = [e for e in await onboarding.events(ACTIVATED) if e.key == "crm-1"]
    assert [(e.data["tier"], e.data["mentor_id"]) for e in activations] == [
        ("trial", "mentor-a"),
        ("core", "mentor-a"),
    ]
    assert len([e for e in await onboarding.events(WELCOMED) if e.key == "crm-1"]) == 1


async def test_welcome_template_input_and_access(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    url = f"{BASE}/communities/{cid}/welcome"
    for body in (
        {"template": "你好 {nickname}"},
        {"template": "{member_name.__class__}"},
        {"template": "坏的 {"},
        {"template": ""},
        {"template": "x\x00"},
        {},
        {"template": "ok", "extra": 1},
    ):
        bad = await onboarding.client.put(url, json=body, headers=onboarding.operator())
        assert bad.status_code == 422, body
        assert bad.headers["content-type"] == "application/problem+json"
    got = await onboarding.client.get(url, headers=onboarding.operator())
    assert got.status_code == 200 and got.json()["custom"] is False
    await join(onboarding, cid, "mentor-a")
    await join(onboarding, cid, "plain")
    await grant(onboarding, cid, "mentor-a", "mentor")
    assert (
        await onboarding.client.get(url, headers=onboarding.member("mentor-a"))
    ).status_code == 200
    assert (await onboarding.client.get(url, headers=onboarding.member("plain"))).status_code == 403
    put = await onboarding.client.put(
        url, json={"template": "hi {member_name}"}, headers=onboarding.member("mentor-a")
    )
    assert put.status_code == 403  # mentors greet; changing the greeting is management
    other_tenant = await onboarding.client.get(url, headers=onboarding.operator(tenant="tenant-b"))
    assert other_tenant.status_code == 404


async def test_community_admin_manages_roles_in_their_community_only(
    onboarding: Onboarding,
) -> None:
    community = await onboarding.community()
    cid = community["id"]
    other = await onboarding.community(slug="other-club")
    for member in ("boss", "admin-1", "crm-1", "crm-2"):
        await join(onboarding, cid, member)
        await join(onboarding, other["id"], member)
    assert (await grant(onboarding, cid, "admin-1", "admin")).status_code == 201
    as_admin = onboarding.member("admin-1")

    granted = await grant(onboarding, cid, "crm-1", "operator", headers=as_admin)
    assert granted.status_code == 201, granted.text
    assert granted.json()["granted_by"] == "admin-1"
    assert (
        await revoke(onboarding, cid, granted.json()["id"], headers=as_admin)
    ).status_code == 200
    elsewhere = await grant(onboarding, other["id"], "crm-1", "mentor", headers=as_admin)
    assert elsewhere.status_code == 403
    # Owner and admin grants are for tenant owners/admins and the community's owner only.
    promote = await grant(onboarding, cid, "crm-2", "admin", headers=as_admin)
    assert promote.status_code == 403
    tenant_operator = onboarding.operator(roles=("operator",))
    assert (
        await grant(onboarding, cid, "crm-2", "admin", headers=tenant_operator)
    ).status_code == 403
    assert (
        await grant(onboarding, cid, "crm-2", "mentor", headers=tenant_operator)
    ).status_code == 201
    assert (await grant(onboarding, cid, "boss", "owner")).status_code == 201
    by_owner = await grant(onboarding, cid, "crm-2", "admin", headers=onboarding.member("boss"))
    assert by_owner.status_code == 201, by_owner.text
    # A plain member may not grant; they see who holds roles now, but not the history.
    plain = onboarding.member("crm-1")
    assert (await grant(onboarding, cid, "crm-2", "mentor", headers=plain)).status_code == 403
    seen = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles", params={"active": "false"}, headers=plain
    )
    assert seen.status_code == 200
    assert all(g["revoked_at"] is None for g in seen.json()["items"])
    outsider = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles", headers=onboarding.member("nobody")
    )
    assert outsider.status_code == 403
    # Another tenant's operator does not find the community at all.
    cross = await grant(
        onboarding, cid, "crm-1", "mentor", headers=onboarding.operator(tenant="tenant-b")
    )
    assert cross.status_code == 404
    cross_list = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles", headers=onboarding.operator(tenant="tenant-b")
    )
    assert cross_list.status_code == 404
    grant_id = granted.json()["id"]
    cross_revoke = await revoke(
        onboarding, cid, grant_id, headers=onboarding.operator(tenant="tenant-b")
    )
    assert cross_revoke.status_code == 404
    assert (await revoke(onboarding, other["id"], grant_id)).status_code == 404  # wrong community
    actors = await onboarding.client.get(
        f"{BASE}/audit", params={"actor_id": "admin-1"}, headers=onboarding.operator()
    )
    assert [(r["action"], r["actor_kind"]) for r in actors.json()["items"]] == [
        ("role.revoked", "member"),
        ("role.granted", "member"),
    ]


async def test_bad_role_input_is_a_clear_problem(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "crm-1")
    url = f"{BASE}/communities/{cid}/roles"
    for body in (
        {"member_id": "crm-1", "role": "king"},
        {"member_id": "crm-1"},
        {"role": "mentor"},
        {"member_id": "", "role": "mentor"},
        {"member_id": "crm-1", "role": "mentor", "extra": True},
        {"member_id": "crm-1", "role": "mentor", "title": "x"},
        {"member_id": "crm-1", "role": "title"},
        {"member_id": "crm-1", "role": "title", "title": "长" * 41},
        {"member_id": "crm-1", "role": "mentor", "group_id": "g"},
        {"member_id": "crm\x00", "role": "mentor"},
        {"member_id": "crm-1", "role": "mentor", "reason": "x" * 501},
    ):
        answer = await onboarding.client.post(url, json=body, headers=onboarding.operator())
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    not_json = await onboarding.client.post(
        url, content=b"{", headers={**onboarding.operator(), "content-type": "application/json"}
    )
    assert not_json.status_code == 400  # not JSON at all: servicekit answers malformed-json
    assert (
        await onboarding.client.post(url, json={"member_id": "crm-1", "role": "mentor"})
    ).status_code == 401
    unknown = await grant(onboarding, "no-such-community", "crm-1", "mentor")
    assert unknown.status_code == 404
    missing = await revoke(onboarding, cid, "no-such-grant")
    assert missing.status_code == 404
    bad_cursor = await onboarding.client.get(
        url, params={"cursor": "!!"}, headers=onboarding.operator()
    )
    assert bad_cursor.status_code == 400
    bad_filter = await onboarding.client.get(
        url, params={"role": "king"}, headers=onboarding.operator()
    )
    assert bad_filter.status_code == 422
    nul = await onboarding.client.get(
        f"{BASE}/communities/{cid}/roles/x%00/revoke", headers=onboarding.operator()
    )
    assert nul.status_code in (400, 405)
    assert await onboarding.events(GRANTED) == []


async def test_community_operators_review_their_communitys_applications(
    onboarding: Onboarding,
) -> None:
    form = {"fields": [{"key": "name", "label": "怎么称呼", "kind": "text"}]}
    community = await onboarding.community(application_form=form)
    other = await onboarding.community(slug="other-club", application_form=form)
    cid = community["id"]
    await onboarding.client.delete(
        f"{BASE}/communities/{cid}/application-form", headers=onboarding.operator()
    )
    for member in ("reviewer", "mentor"):
        await join(onboarding, cid, member)
    await grant(onboarding, cid, "reviewer", "operator")
    await grant(onboarding, cid, "mentor", "mentor")
    await onboarding.client.put(
        f"{BASE}/communities/{cid}/application-form", json=form, headers=onboarding.operator()
    )

    async def apply(community_id: str, member: str) -> str:
        answer = await onboarding.client.post(
            f"{BASE}/communities/{community_id}/applications",
            json={"answers": {"name": "小林"}},
            headers=onboarding.member(member),
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["application"]["id"])

    mine, theirs = await apply(cid, "crm-1"), await apply(other["id"], "crm-2")
    url = f"{BASE}/applications/{{}}/approve"
    by_mentor = await onboarding.client.post(
        url.format(mine), json={}, headers=onboarding.member("mentor")
    )
    assert by_mentor.status_code == 403
    elsewhere = await onboarding.client.post(
        url.format(theirs), json={}, headers=onboarding.member("reviewer")
    )
    assert elsewhere.status_code == 403
    unknown = await onboarding.client.post(
        url.format("no-such"), json={}, headers=onboarding.member("reviewer")
    )
    assert unknown.status_code == 404
    approved = await onboarding.client.post(
        url.format(mine), json={"reason": "欢迎"}, headers=onboarding.member("reviewer")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["application"]["decided_by"] == "reviewer"
    assert approved.json()["membership"]["status"] == "active"
    records = await onboarding.client.get(
        f"{BASE}/audit", params={"action": "application.approved"}, headers=onboarding.operator()
    )
    [record] = records.json()["items"]
    assert (record["actor_id"], record["actor_kind"]) == ("reviewer", "member")
    cross = await onboarding.client.post(
        f"{BASE}/applications/{theirs}/reject",
        json={"reason": "x"},
        headers=onboarding.operator(tenant="tenant-b"),
    )
    assert cross.status_code == 404


async def test_guest_speaker_limit_is_a_community_setting(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    assert community["guest_speaker_limit"] == 10
    url = f"{BASE}/communities/{cid}"
    for bad in (None, -1, 1001, "many"):
        refused = await onboarding.client.patch(
            url, json={"guest_speaker_limit": bad}, headers=onboarding.operator()
        )
        assert refused.status_code == 422, bad
    patched = await onboarding.client.patch(
        url, json={"guest_speaker_limit": 1}, headers=onboarding.operator()
    )
    assert patched.status_code == 200 and patched.json()["guest_speaker_limit"] == 1
    for member in ("crm-1", "crm-2"):
        await join(onboarding, cid, member)
    assert (await grant(onboarding, cid, "crm-1", "guest_speaker")).status_code == 201
    assert (await grant(onboarding, cid, "crm-2", "guest_speaker")).status_code == 409
