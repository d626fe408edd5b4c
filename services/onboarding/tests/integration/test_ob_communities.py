"""Communities, groups, joins and the member directory over the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from onboarding.directory.handlers import on_member_identified
from servicekit.db import transaction
from servicekit.events import Event

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"


async def test_operator_creates_a_community_with_groups(onboarding: Onboarding) -> None:
    created = await onboarding.community(groups=[{"name": "1群", "capacity": 3}, {"name": "2群"}])
    assert created["join_policy"] == "open" and created["timezone"] == "Asia/Shanghai"
    groups = await onboarding.client.get(
        f"{BASE}/communities/{created['id']}/groups", headers=onboarding.operator()
    )
    assert [(g["name"], g["capacity"], g["member_count"]) for g in groups.json()["items"]] == [
        ("1群", 3, 0),
        ("2群", 500, 0),
    ]
    types = [e.type for e in await onboarding.events()]
    assert types == [
        "quanzi.onboarding.community.created.v1",
        "quanzi.onboarding.group.created.v1",
        "quanzi.onboarding.group.created.v1",
    ]
    again = await onboarding.client.post(
        f"{BASE}/communities",
        json={"slug": "reading-club", "name": "X"},
        headers=onboarding.operator(),
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_community_events_carry_its_time_zone(onboarding: Onboarding) -> None:
    """Rewards and the other consumers start the community's days at its own midnight."""
    created = await onboarding.community(timezone="America/New_York")
    answer = await onboarding.client.patch(
        f"{BASE}/communities/{created['id']}",
        json={"timezone": "Europe/Paris"},
        headers=onboarding.operator(),
    )
    assert answer.status_code == 200, answer.text
    made = await onboarding.events("quanzi.onboarding.community.created.v1")
    assert [e.data["timezone"] for e in made] == ["America/New_York"]
    changed = await onboarding.events("quanzi.onboarding.community.updated.v1")
    assert [(e.data["changes"], e.data["timezone"]) for e in changed] == [
        (["timezone"], "Europe/Paris")
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"slug": "No Spaces"},
        {"timezone": "Mars/Olympus"},
        {"visibility": "hidden"},
        {"join_policy": "paid"},  # no terms
        {"join_policy": "paid", "price_cents": 100, "currency": "CNY", "term_kind": "rolling"},
        {"join_policy": "paid", "price_cents": 100, "term_kind": "rolling", "term_days": 30},
        {"price_cents": 100},  # an open community has no price
        {"groups": [{"name": "g", "capacity": 0}]},
        {"groups": [{"name": "g"}, {"name": "g"}]},
        {"unknown": 1},
    ],
)
async def test_bad_community_input_is_a_problem_and_writes_nothing(
    onboarding: Onboarding, bad: dict[str, object]
) -> None:
    body = {"slug": "fine-slug", "name": "N", **bad}
    answer = await onboarding.client.post(
        f"{BASE}/communities", json=body, headers=onboarding.operator()
    )
    assert answer.status_code in (409, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert await onboarding.events() == []


async def test_member_joins_an_open_community_once(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    url = f"{BASE}/communities/{community['id']}/join"
    first = await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "active" and first.json()["source"]["kind"] == "open"
    second = await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    [activated] = await onboarding.events("quanzi.onboarding.membership.activated.v1")
    assert activated.key == "crm-1" and activated.data["term_ends_at"] is None
    mine = await onboarding.client.get(f"{BASE}/me/memberships", headers=onboarding.member("crm-1"))
    assert [m["community_id"] for m in mine.json()["items"]] == [community["id"]]
    left = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("crm-1")
    )
    assert left.json()["status"] == "left"
    rejoined = await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    assert rejoined.status_code == 201 and rejoined.json()["status"] == "active"
    assert len(await onboarding.events("quanzi.onboarding.membership.left.v1")) == 1


async def test_members_see_public_communities_and_their_own(onboarding: Onboarding) -> None:
    public = await onboarding.community(slug="public-one")
    private = await onboarding.community(
        slug="private-one", visibility="private", groups=[{"name": "g"}]
    )
    listed = await onboarding.client.get(f"{BASE}/communities", headers=onboarding.member("crm-1"))
    assert [c["id"] for c in listed.json()["items"]] == [public["id"]]
    hidden = await onboarding.client.get(
        f"{BASE}/communities/{private['id']}", headers=onboarding.member("crm-1")
    )
    assert hidden.status_code == 404
    direct = await onboarding.client.post(
        f"{BASE}/communities/{private['id']}/join", headers=onboarding.member("crm-1")
    )
    assert direct.status_code == 404
    groups = await onboarding.client.get(
        f"{BASE}/communities/{private['id']}/groups", headers=onboarding.operator()
    )
    code = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": private["id"],
            "code": "vip-2026",
            "group_ids": [groups.json()["items"][0]["id"]],
            "overflow_prefix": "VIP ",
            "channel": "poster",
        },
    )
    assert code.status_code == 201, code.text
    joined = await onboarding.client.post(
        f"{BASE}/routing-codes/vip-2026/join", headers=onboarding.member("crm-1")
    )
    assert joined.status_code == 201
    assert joined.json()["source"] == {
        "kind": "routing_code",
        "code": "vip-2026",
        "channel": "poster",
        "inviter_id": None,
    }
    listed = await onboarding.client.get(f"{BASE}/communities", headers=onboarding.member("crm-1"))
    assert {c["id"] for c in listed.json()["items"]} == {public["id"], private["id"]}
    operator_view = await onboarding.client.get(
        f"{BASE}/communities", headers=onboarding.operator()
    )
    assert len(operator_view.json()["items"]) == 2


async def test_memberships_are_paged_and_filtered(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    for i in range(5):
        await onboarding.client.post(
            f"{BASE}/communities/{community['id']}/join", headers=onboarding.member(f"crm-{i}")
        )
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("crm-0")
    )
    seen: list[str] = []
    cursor = None
    while True:
        params = {
            "limit": 2,
            "community_id": community["id"],
            **({"cursor": cursor} if cursor else {}),
        }
        page = await onboarding.client.get(
            f"{BASE}/memberships", params=params, headers=onboarding.operator()
        )
        seen += [m["member_id"] for m in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"crm-{i}" for i in range(5)]
    left = await onboarding.client.get(
        f"{BASE}/memberships", params={"status": "left"}, headers=onboarding.operator()
    )
    assert [m["member_id"] for m in left.json()["items"]] == ["crm-0"]
    for params in ({"status": "nonsense"}, {"cursor": "%%%"}, {"limit": 0}):
        bad = await onboarding.client.get(
            f"{BASE}/memberships", params=params, headers=onboarding.operator()
        )
        assert bad.status_code in (400, 422), (params, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"


async def test_member_directory_follows_member_identified(onboarding: Onboarding) -> None:
    def identified(profile: dict[str, object]) -> Event:
        return Event(
            type="quanzi.gateway.member.identified.v1",
            source="/gateway",
            tenant_id=onboarding.tenant,
            topic="gateway.members",
            data={"tenant_id": onboarding.tenant, "external_id": "crm-7", "profile": profile},
        )

    for profile in ({"display_name": "小林"}, {"display_name": "小林"}, {"city": "杭州"}):
        async with transaction(onboarding.sessions) as session:
            await on_member_identified(session, identified(profile))
    upserts = await onboarding.events("quanzi.onboarding.member.upserted.v1")
    assert [e.data["created"] for e in upserts] == [True, False]  # the repeat changed nothing
    me = await onboarding.client.get(f"{BASE}/me/profile", headers=onboarding.member("crm-7"))
    assert me.json() == {
        "member_id": "crm-7",
        "display_name": "小林",
        "profile": {"display_name": "小林", "city": "杭州"},
        "tags": [],
    }
    unknown = await onboarding.client.get(f"{BASE}/me/profile", headers=onboarding.member("crm-8"))
    assert unknown.status_code == 200 and unknown.json()["profile"] == {}


async def test_roles_and_tokens_are_enforced(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    assert (await onboarding.client.get(f"{BASE}/communities")).status_code == 401
    member_on_operator_routes = [
        ("POST", f"{BASE}/communities/{cid}/groups", {"name": "g"}),
        ("GET", f"{BASE}/memberships", None),
        ("POST", f"{BASE}/communities", {"slug": "abc", "name": "n"}),
    ]
    for method, url, body in member_on_operator_routes:
        answer = await onboarding.client.request(
            method, url, json=body, headers=onboarding.member("crm-1")
        )
        assert answer.status_code == 403, (url, answer.text)
    for url in (f"{BASE}/me/profile", f"{BASE}/me/memberships"):
        assert (await onboarding.client.get(url, headers=onboarding.operator())).status_code == 403
    content_officer = onboarding.operator(roles=("content_officer",))
    assert (
        await onboarding.client.get(f"{BASE}/communities", headers=content_officer)
    ).status_code == 403
    operator_join = await onboarding.client.post(
        f"{BASE}/communities/{cid}/join", headers=onboarding.operator()
    )
    assert operator_join.status_code == 403


async def test_another_tenants_ids_are_not_found(onboarding: Onboarding) -> None:
    community = await onboarding.community(groups=[{"name": "g"}])
    cid = community["id"]
    joined = await onboarding.client.post(
        f"{BASE}/communities/{cid}/join", headers=onboarding.member("crm-1")
    )
    group_id = (
        await onboarding.client.get(
            f"{BASE}/communities/{cid}/groups", headers=onboarding.operator()
        )
    ).json()["items"][0]["id"]
    code = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={"community_id": cid, "code": "abc", "group_ids": [group_id], "overflow_prefix": "o"},
    )
    other = onboarding.operator(tenant="tenant-b")
    other_member = onboarding.member("crm-1", tenant="tenant-b")
    membership_id = joined.json()["id"]
    probes = [
        ("GET", f"{BASE}/communities/{cid}", other, None),
        ("GET", f"{BASE}/communities/{cid}/groups", other, None),
        ("POST", f"{BASE}/communities/{cid}/groups", other, {"name": "x"}),
        ("GET", f"{BASE}/routing-codes/{code.json()['id']}", other, None),
        ("GET", f"{BASE}/memberships/{membership_id}", other, None),
        ("POST", f"{BASE}/memberships/{membership_id}/refund", onboarding.payments("tenant-b"), {}),
        ("POST", f"{BASE}/communities/{cid}/join", other_member, None),
        ("POST", f"{BASE}/communities/{cid}/leave", other_member, None),
        ("POST", f"{BASE}/routing-codes/abc/join", other_member, None),
        ("GET", f"{BASE}/communities/{cid}", other_member, None),
        (
            "POST",
            f"{BASE}/routing-codes",
            other,
            {"community_id": cid, "code": "zzz", "group_ids": [group_id], "overflow_prefix": "o"},
        ),
    ]
    for method, url, headers, body in probes:
        answer = await onboarding.client.request(method, url, json=body, headers=headers)
        assert answer.status_code == 404, (method, url, answer.text)
    listing = await onboarding.client.get(f"{BASE}/memberships", headers=other)
    assert listing.json()["items"] == []
    assert (await onboarding.client.get(f"{BASE}/communities", headers=other)).json()["items"] == []


async def test_nul_characters_are_problems_not_server_errors(onboarding: Onboarding) -> None:
    # PostgreSQL text cannot hold U+0000: without the checks each of these was a 500 there.
    operator = onboarding.operator()
    for method, url, params, body in (
        ("GET", f"{BASE}/communities/a%00b", None, None),
        ("GET", f"{BASE}/memberships", {"member_id": "a\x00b"}, None),
        ("POST", f"{BASE}/communities", None, {"slug": "abc", "name": "a\x00b"}),
        ("POST", f"{BASE}/invites", None, {"community_id": "c", "channel": "\x00"}),
    ):
        answer = await onboarding.client.request(
            method, url, params=params, json=body, headers=operator
        )
        assert answer.status_code in (400, 422), (url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    community = await onboarding.community(
        application_form={"fields": [{"key": "why", "label": "?", "kind": "text"}]}
    )
    applied = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/applications",
        json={"answers": {"why": "a\x00b", "a\x00": 1}},
        headers=onboarding.member("crm-1"),
    )
    assert applied.status_code == 422
