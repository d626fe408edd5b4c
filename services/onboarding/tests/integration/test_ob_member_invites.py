"""Members' own invite links: the community's policy (eligibility, limits), their own links
only, and who joined through each (operators see every invite)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onboarding.orm import MemberLevel
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"


async def post(onboarding: Onboarding, path: str, headers: dict[str, str], **body: Any) -> Any:
    return await onboarding.client.post(f"{BASE}{path}", json=body or None, headers=headers)


async def get(onboarding: Onboarding, path: str, headers: dict[str, str]) -> Any:
    return await onboarding.client.get(f"{BASE}{path}", headers=headers)


async def test_a_member_creates_links_and_sees_who_joined(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    alice, bob = onboarding.member("alice"), onboarding.member("bob")
    assert (await post(onboarding, f"/communities/{cid}/join", alice)).status_code == 201
    policy = await onboarding.client.put(
        f"{BASE}/communities/{cid}/invite-policy",
        json={"max_active_links": 2, "max_uses": 3},
        headers=onboarding.operator(),
    )
    assert policy.status_code == 200, policy.text
    assert (await get(onboarding, f"/communities/{cid}/invite-policy", alice)).json() == {
        "enabled": True,
        "max_active_links": 2,
        "min_level": None,
        "trial_members": False,
        "max_uses": 3,
        "valid_days": None,
    }

    link = await post(onboarding, "/invites", alice, community_id=cid, channel="朋友圈")
    assert link.status_code == 201, link.text
    mine = link.json()
    assert mine["inviter_id"] == "alice" and mine["created_by"] == "alice"
    assert mine["max_uses"] == 3 and len(mine["code"]) == 8
    poster = (await post(onboarding, "/invites", alice, community_id=cid, channel="海报")).json()
    limit = await post(onboarding, "/invites", alice, community_id=cid)
    assert limit.status_code == 409 and limit.json()["type"].endswith("/invite-limit-reached")
    revoked = await post(onboarding, f"/invites/{poster['id']}/revoke", alice)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert (await post(onboarding, "/invites", alice, community_id=cid)).status_code == 201

    for friend in ("f1", "f2"):
        joined = await post(
            onboarding, f"/invites/{mine['code']}/redeem", onboarding.member(friend)
        )
        assert joined.status_code == 201 and joined.json()["source"]["inviter_id"] == "alice"
    invitees = await get(onboarding, f"/invites/{mine['id']}/invitees", alice)
    assert invitees.status_code == 200, invitees.text
    assert [(i["member_id"], i["status"]) for i in invitees.json()["items"]] == [
        ("f1", "active"),
        ("f2", "active"),
    ]
    as_operator = await get(onboarding, f"/invites/{mine['id']}/invitees", onboarding.operator())
    assert as_operator.json()["items"] == invitees.json()["items"]

    operator_made = await post(
        onboarding, "/invites", onboarding.operator(), community_id=cid, code="STAFF"
    )
    assert operator_made.status_code == 201
    in_her_name = await post(
        onboarding, "/invites", onboarding.operator(), community_id=cid, inviter_id="alice"
    )
    listed = (await get(onboarding, "/invites", alice)).json()["items"]
    assert in_her_name.json()["id"] in {i["id"] for i in listed}  # she is its inviter
    kept = await post(onboarding, f"/invites/{in_her_name.json()['id']}/revoke", alice)
    assert kept.status_code == 403  # operators issued it: operators revoke it
    await post(onboarding, f"/invites/{in_her_name.json()['id']}/revoke", onboarding.operator())
    listed = (await get(onboarding, "/invites", alice)).json()["items"]
    assert {i["id"] for i in listed} >= {mine["id"], poster["id"]}
    assert all(i["inviter_id"] == "alice" for i in listed) and len(listed) == 4
    everyone = (await get(onboarding, "/invites", onboarding.operator())).json()["items"]
    assert len(everyone) == 5

    # Bob sees none of Alice's links, as if they did not exist.
    for path in (f"/invites/{mine['id']}", f"/invites/{mine['id']}/invitees"):
        assert (await get(onboarding, path, bob)).status_code == 404
    assert (await post(onboarding, f"/invites/{mine['id']}/revoke", bob)).status_code == 404
    assert (await get(onboarding, "/invites", bob)).json()["items"] == []
    other = onboarding.operator("tenant-b")
    assert (await get(onboarding, f"/invites/{mine['id']}/invitees", other)).status_code == 404


async def test_the_policy_decides_who_may_create_links(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    alice = onboarding.member("alice")
    not_member = await post(onboarding, "/invites", alice, community_id=cid)
    assert not_member.status_code == 403
    assert not_member.json()["type"].endswith("/invite-not-eligible")
    await post(onboarding, f"/communities/{cid}/join", alice)
    for fields in ({"code": "MYCODE"}, {"max_uses": 9}, {"inviter_id": "bob"}):
        refused = await post(onboarding, "/invites", alice, community_id=cid, **fields)
        assert refused.status_code == 403, fields
        assert refused.json()["type"].endswith("/member-invite-fields")

    put = onboarding.client.put
    url = f"{BASE}/communities/{cid}/invite-policy"
    assert (await put(url, json={"min_level": 3}, headers=alice)).status_code == 403
    assert (
        await put(url, json={"max_active_links": 0}, headers=onboarding.operator())
    ).status_code == 422
    await put(url, json={"min_level": 3, "valid_days": 7}, headers=onboarding.operator())
    low = await post(onboarding, "/invites", alice, community_id=cid)
    assert low.status_code == 403 and low.json()["type"].endswith("/invite-level-too-low")
    async with onboarding.sessions() as session, session.begin():
        session.add(
            MemberLevel(
                tenant_id=onboarding.tenant, member_id="alice", level=3, changed_at=utcnow()
            )
        )
    leveled = await post(onboarding, "/invites", alice, community_id=cid)
    assert leveled.status_code == 201, leveled.text
    assert leveled.json()["expires_at"] is not None

    await put(url, json={"enabled": False}, headers=onboarding.operator())
    off = await post(onboarding, "/invites", alice, community_id=cid)
    assert off.status_code == 403 and off.json()["type"].endswith("/member-invites-disabled")
    secret = await onboarding.community(slug="secret", visibility="secret")
    hidden = await post(onboarding, "/invites", alice, community_id=secret["id"])
    assert hidden.status_code == 404
    policy = await get(onboarding, f"/communities/{secret['id']}/invite-policy", alice)
    assert policy.status_code == 404
    as_operator = f"/communities/{secret['id']}/invite-policy"
    assert (await get(onboarding, as_operator, onboarding.operator())).status_code == 200
