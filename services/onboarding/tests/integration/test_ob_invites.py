"""Invite codes: uses never exceeded, inviter attribution, target group, combined policies."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import update

from onboarding.orm import InviteCode
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
REDEEMED = "quanzi.onboarding.invite.redeemed.v1"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"


async def groups_of(onboarding: Onboarding, community_id: str) -> list[dict[str, Any]]:
    answer = await onboarding.client.get(
        f"{BASE}/communities/{community_id}/groups", headers=onboarding.operator()
    )
    return list(answer.json()["items"])


async def invite(onboarding: Onboarding, community_id: str, **fields: Any) -> dict[str, Any]:
    answer = await onboarding.client.post(
        f"{BASE}/invites",
        json={"community_id": community_id, **fields},
        headers=onboarding.operator(),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def redeem(onboarding: Onboarding, code: str, member: str) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/invites/{code}/redeem", headers=onboarding.member(member)
    )


async def test_invite_attributes_the_inviter_and_seats_in_the_target_group(
    onboarding: Onboarding,
) -> None:
    community = await onboarding.community(
        visibility="secret", groups=[{"name": "1群"}, {"name": "VIP"}]
    )
    cid = community["id"]
    vip = (await groups_of(onboarding, cid))[1]["id"]
    founder = await invite(onboarding, cid, code="FOUNDER")
    assert (await redeem(onboarding, "FOUNDER", "inviter")).status_code == 201
    created = await invite(
        onboarding, cid, inviter_id="inviter", channel="朋友圈", target_group_id=vip, max_uses=2
    )
    assert len(created["code"]) == 8 and created["uses"] == 0
    assert (await redeem(onboarding, created["code"], "inviter")).status_code == 200  # in already

    first = await redeem(onboarding, created["code"], "friend-1")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "active" and first.json()["group_id"] == vip
    assert first.json()["source"] == {
        "kind": "invite",
        "code": created["code"],
        "channel": "朋友圈",
        "inviter_id": "inviter",
    }
    assert (await redeem(onboarding, created["code"], "friend-1")).status_code == 200  # no use
    await onboarding.client.post(
        f"{BASE}/communities/{cid}/leave", headers=onboarding.member("inviter")
    )
    own = await redeem(onboarding, created["code"], "inviter")
    assert own.status_code == 409 and own.json()["type"].endswith("/own-invite")
    assert (await redeem(onboarding, created["code"], "friend-2")).status_code == 201
    used_up = await redeem(onboarding, created["code"], "friend-3")
    assert used_up.status_code == 410 and used_up.json()["type"].endswith("/invite-used-up")

    fetched = await onboarding.client.get(
        f"{BASE}/invites/{created['id']}", headers=onboarding.operator()
    )
    assert fetched.json()["uses"] == 2
    redeemed = await onboarding.events(REDEEMED)
    assert [(e.data["member_id"], e.data["uses"]) for e in redeemed[1:]] == [
        ("friend-1", 1),
        ("friend-2", 2),
    ]
    activated = [e for e in await onboarding.events(ACTIVATED) if e.key == "friend-1"]
    assert activated[0].data["source"]["inviter_id"] == "inviter"
    listed = await onboarding.client.get(
        f"{BASE}/invites", params={"community_id": cid, "limit": 1}, headers=onboarding.operator()
    )
    assert [i["id"] for i in listed.json()["items"]] == [founder["id"]]
    assert listed.json()["next_cursor"]


async def test_concurrent_redemptions_never_exceed_max_uses(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    created = await invite(onboarding, community["id"], code="THREE", max_uses=3)
    answers = await asyncio.gather(*(redeem(onboarding, "THREE", f"m-{i}") for i in range(10)))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [410] * 7
    fetched = await onboarding.client.get(
        f"{BASE}/invites/{created['id']}", headers=onboarding.operator()
    )
    assert fetched.json()["uses"] == 3
    assert len(await onboarding.events(REDEEMED)) == 3


async def test_dead_invites_are_gone(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    unlimited = await invite(onboarding, community["id"], code="OPEN-DOOR", max_uses=None)
    for i in range(3):
        assert (await redeem(onboarding, "OPEN-DOOR", f"m-{i}")).status_code == 201
    soon = await invite(
        onboarding,
        community["id"],
        code="SOON",
        expires_at=(utcnow() + timedelta(hours=1)).isoformat(),
    )
    async with onboarding.sessions() as session, session.begin():
        await session.execute(
            update(InviteCode)
            .where(InviteCode.id == soon["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await redeem(onboarding, "SOON", "late")
    assert expired.status_code == 410 and expired.json()["type"].endswith("/invite-expired")
    revoked = await onboarding.client.post(
        f"{BASE}/invites/{unlimited['id']}/revoke", headers=onboarding.operator()
    )
    assert revoked.json()["revoked_at"] is not None
    refused = await redeem(onboarding, "OPEN-DOOR", "m-9")
    assert refused.status_code == 410 and refused.json()["type"].endswith("/invite-revoked")
    assert (await redeem(onboarding, "NO-SUCH", "m-9")).status_code == 404


async def test_invites_are_checked_when_issued(onboarding: Onboarding) -> None:
    community = await onboarding.community(groups=[{"name": "g"}])
    other = await onboarding.community(slug="other-club", groups=[{"name": "g"}])
    other_group = (await groups_of(onboarding, other["id"]))[0]["id"]
    await invite(onboarding, community["id"], code="TAKEN")
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    for bad, status in (
        ({"inviter_id": "stranger"}, 422),  # the inviter is not a member
        ({"target_group_id": other_group}, 422),
        ({"expires_at": past}, 422),
        ({"expires_at": "2030-01-01T00:00:00"}, 422),  # no time zone
        ({"max_uses": 0}, 422),
        ({"code": "a b"}, 422),
        ({"code": "TAKEN"}, 409),
        ({"community_id": "no-such-community"}, 404),
    ):
        body = {"community_id": community["id"], **bad}
        answer = await onboarding.client.post(
            f"{BASE}/invites", json=body, headers=onboarding.operator()
        )
        assert answer.status_code == status, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    as_member = await onboarding.client.post(
        f"{BASE}/invites", json={"community_id": community["id"]}, headers=onboarding.member("m")
    )
    assert as_member.status_code == 403


async def test_invites_pass_no_other_gate(onboarding: Onboarding) -> None:
    paid = await onboarding.paid_community(groups=[{"name": "core", "capacity": 1}])
    core = (await groups_of(onboarding, paid["id"]))[0]["id"]
    await invite(onboarding, paid["id"], code="PAID", target_group_id=core, max_uses=5)
    pending = await redeem(onboarding, "PAID", "crm-1")
    assert pending.json()["status"] == "pending_payment" and pending.json()["group_id"] is None
    paid_now = (await onboarding.pay(paid["id"], "crm-1", "p-1")).json()["membership"]
    assert paid_now["group_id"] == core and paid_now["source"]["code"] == "PAID"
    await redeem(onboarding, "PAID", "crm-2")
    second = (await onboarding.pay(paid["id"], "crm-2", "p-2")).json()["membership"]
    # The group was full and no routing code covers it: in, and explicitly waiting.
    assert second["status"] == "active" and second["group_id"] is None
    assert second["seat_waiting_since"] is not None

    form = {"fields": [{"key": "why", "label": "为什么", "kind": "text"}]}
    reviewed = await onboarding.community(slug="reviewed", application_form=form)
    await invite(onboarding, reviewed["id"], code="APPLY", inviter_id=None, channel="海报")
    direct = await redeem(onboarding, "APPLY", "crm-3")
    assert direct.status_code == 409 and direct.json()["type"].endswith("/application-required")
    applied = await onboarding.client.post(
        f"{BASE}/communities/{reviewed['id']}/applications",
        json={"answers": {"why": "喜欢读书"}, "invite_code": "APPLY"},
        headers=onboarding.member("crm-3"),
    )
    assert applied.status_code == 201, applied.text
    approved = await onboarding.client.post(
        f"{BASE}/applications/{applied.json()['application']['id']}/approve",
        json={},
        headers=onboarding.operator(),
    )
    source = approved.json()["membership"]["source"]
    assert source == {"kind": "invite", "code": "APPLY", "channel": "海报", "inviter_id": None}
    await invite(onboarding, reviewed["id"], code="APPLY2")
    both = await onboarding.client.post(
        f"{BASE}/communities/{reviewed['id']}/applications",
        json={"answers": {"why": "x"}, "invite_code": "APPLY2", "routing_code": "abc"},
        headers=onboarding.member("crm-4"),
    )
    # Both codes are allowed (the invite attributes, the routing code places): this one is
    # unknown.
    assert both.status_code == 404 and both.json()["type"].endswith("/not-found")


async def test_another_tenants_invites_are_not_found(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    created = await invite(onboarding, community["id"], code="MINE")
    other = onboarding.operator(tenant="tenant-b")
    probes = [
        ("GET", f"{BASE}/invites/{created['id']}", other, None),
        ("POST", f"{BASE}/invites/{created['id']}/revoke", other, None),
        ("POST", f"{BASE}/invites", other, {"community_id": community["id"]}),
        ("POST", f"{BASE}/invites/MINE/redeem", onboarding.member("m", "tenant-b"), None),
    ]
    for method, url, headers, body in probes:
        answer = await onboarding.client.request(method, url, json=body, headers=headers)
        assert answer.status_code == 404, (method, url, answer.text)
    assert (await onboarding.client.get(f"{BASE}/invites", headers=other)).json()["items"] == []
