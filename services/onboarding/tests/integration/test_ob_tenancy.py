"""Every endpoint, called by another tenant with the first tenant's ids, answers 404.

Tenant A builds one of everything (community, group, routing code, invite, membership,
application, role, rules, report, sanction, appeal, directory entry). Tenant B's owner,
member and payment backend then call every route of the OpenAPI document with A's ids in
the path (or the body, for routes that take them there). No call may succeed, fail with a
5xx, or stop at validation (422 would hide a missing tenant check); each route must answer
404 to at least one of B's principals (the others may be turned away earlier with 403).
A route added later without an entry here fails ``test_every_route_is_covered``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Onboarding

OB = "/v1/onboarding"
QUESTIONNAIRE = {"fields": [{"key": "city", "label": "城市", "kind": "text", "required": True}]}


async def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def tenant_a_objects(onboarding: Onboarding) -> dict[str, str]:
    client, owner = onboarding.client, onboarding.operator()
    community = await onboarding.community(groups=[{"name": "一群", "kind": "local"}])
    cid = community["id"]
    [group] = (await client.get(f"{OB}/communities/{cid}/groups", headers=owner)).json()["items"]
    code = await ok(
        await client.post(
            f"{OB}/routing-codes",
            headers=owner,
            json={
                "community_id": cid,
                "code": "a-code",
                "group_ids": [group["id"]],
                "overflow_prefix": "扩容",
            },
        )
    )
    invite = await ok(await client.post(f"{OB}/invites", headers=owner, json={"community_id": cid}))
    joined = await ok(
        await client.post(f"{OB}/communities/{cid}/join", headers=onboarding.member("a-1"))
    )
    await ok(await client.post(f"{OB}/communities/{cid}/join", headers=onboarding.member("a-2")))
    role = await ok(
        await client.post(
            f"{OB}/communities/{cid}/roles",
            headers=owner,
            json={"member_id": "a-2", "role": "mentor"},
        )
    )
    report = await ok(
        await client.post(
            f"{OB}/communities/{cid}/reports",
            headers=onboarding.member("a-2"),
            json={"target_kind": "member", "target_id": "a-1", "category": "spam"},
        )
    )
    sanction = await ok(
        await client.post(
            f"{OB}/communities/{cid}/sanctions",
            headers=owner,
            json={"member_id": "a-1", "reason": "广告", "kind": "warning"},
        )
    )
    sanction_id = sanction.get("sanction", sanction)["id"]
    appeal = await ok(
        await client.post(
            f"{OB}/sanctions/{sanction_id}/appeals",
            headers=onboarding.member("a-1"),
            json={"text": "误会"},
        )
    )
    gated = await onboarding.community(slug="gated", application_form=QUESTIONNAIRE)
    application = await ok(
        await client.post(
            f"{OB}/communities/{gated['id']}/applications",
            headers=onboarding.member("a-3"),
            json={"answers": {"city": "上海"}},
        )
    )
    return {
        "community_id": cid,
        "group_id": group["id"],
        "code_id": code["id"],
        "code": "a-code",
        "invite_id": invite["id"],
        "invite_code": invite["code"],
        "membership_id": joined["id"],
        "grant_id": role.get("grant", role)["id"],
        "report_id": report.get("report", report)["id"],
        "sanction_id": sanction_id,
        "appeal_id": appeal.get("appeal", appeal)["id"],
        "application_id": application["application"]["id"],
        "external_id": "a-1",
    }


# Bodies that pass validation, so the call reaches the tenant-scoped lookup.
BODIES: dict[str, dict[str, Any]] = {
    "PATCH /communities/{community_id}": {"name": "改名"},
    "PATCH /communities/{community_id}/groups/{group_id}": {"name": "改名"},
    "PUT /communities/{community_id}/level-gate": {"min_level": 2},
    "PUT /communities/{community_id}/invite-policy": {"max_active_links": 3},
    "PUT /communities/{community_id}/default-routing-code": {"routing_code_id": None},
    "POST /communities/{community_id}/groups": {"name": "新群"},
    "POST /communities/{community_id}/join": {},
    "POST /routing-codes/{code}/join": {},
    "PUT /communities/{community_id}/application-form": QUESTIONNAIRE,
    "POST /communities/{community_id}/applications": {"answers": {"city": "北京"}},
    "POST /applications/{application_id}/approve": {},
    "POST /applications/{application_id}/reject": {"reason": "no"},
    "POST /invites/{code}/redeem": {},
    "POST /memberships/{membership_id}/refund": {},
    "POST /communities/{community_id}/roles": {"member_id": "a-1", "role": "mentor"},
    "POST /communities/{community_id}/roles/{grant_id}/revoke": {},
    "PUT /communities/{community_id}/welcome": {"template": "欢迎"},
    "POST /communities/{community_id}/rules": {"text": "友善交流"},
    "POST /communities/{community_id}/rules/accept": {"version": 1},
    "PUT /communities/{community_id}/moderation-ladder": {"steps": [{"kind": "warning"}]},
    "POST /communities/{community_id}/sanctions": {"member_id": "a-1", "reason": "x"},
    "POST /sanctions/{sanction_id}/lift": {"reason": "x"},
    "POST /sanctions/{sanction_id}/appeals": {"text": "x"},
    "POST /appeals/{appeal_id}/decide": {"decision": "overturn", "reason": "x"},
    "POST /communities/{community_id}/reports": {
        "target_kind": "member",
        "target_id": "a-1",
        "category": "spam",
    },
    "POST /reports/{report_id}/resolve": {"outcome": "dismissed"},
}

# Routes without ids in the path that take A's ids in the body: still 404.
BODY_ROUTES: dict[str, Any] = {
    "POST /routing-codes": lambda ids: {
        "community_id": ids["community_id"],
        "code": "b-code",
        "group_ids": [ids["group_id"]],
        "overflow_prefix": "x",
    },
    "POST /invites": lambda ids: {"community_id": ids["community_id"]},
    "POST /memberships/{membership_id}/move": lambda ids: {"group_id": ids["group_id"]},
    "POST /me/communities/{community_id}/group": lambda ids: {"group_id": ids["group_id"]},
    "POST /payments": lambda ids: {
        "reference": "ref-b",
        "community_id": ids["community_id"],
        "member_id": "b-1",
        "amount_cents": 100,
        "currency": "CNY",
    },
}

# Tenant-wide routes with no ids at all (lists, creation, the member's own views): other
# tests check they only ever show the caller's tenant (see test_lists_show_nothing_of_a).
UNSCOPED = {
    "GET /appeals",
    "GET /applications",
    "POST /applications/review",
    "GET /audit",
    "GET /communities",
    "POST /communities",
    "GET /invites",
    "GET /members",
    "POST /members/batch",
    "PUT /members/{external_id}",  # external ids are per tenant: this upserts B's own member
    "GET /memberships",
    "GET /reports",
    "GET /routing-codes",
    "GET /me/applications",
    "GET /me/memberships",
    "GET /me/profile",
    "GET /me/roles",
    "GET /me/rules",
    "GET /me/sanctions",
    "GET /whoami",
}

PARAMS = {"code": "code", "external_id": "external_id"}


def routes(onboarding: Onboarding) -> list[str]:
    paths = onboarding.app.openapi()["paths"]
    return sorted(
        f"{method.upper()} {path.removeprefix(OB)}"
        for path, operations in paths.items()
        if path.startswith(OB)
        for method in operations
    )


def refused(status: int) -> bool:
    """Turned away before or at the lookup: the other tenant's object stays invisible."""
    return status in (403, 404)


def fill(path: str, ids: dict[str, str]) -> str:
    if path.startswith("/invites/{code}"):
        return path.replace("{code}", ids["invite_code"])
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


async def test_every_route_is_covered(onboarding: Onboarding) -> None:
    known = set(BODIES) | set(BODY_ROUTES) | UNSCOPED
    path_routes = {r for r in routes(onboarding) if "{" in r}
    missing = {r for r in routes(onboarding) if r not in known and r not in path_routes}
    assert not missing, f"add these routes to test_ob_tenancy.py: {sorted(missing)}"


async def test_another_tenant_gets_404_on_every_route(onboarding: Onboarding) -> None:
    ids = await tenant_a_objects(onboarding)
    principals = {
        "owner": onboarding.operator(tenant="tenant-b"),
        "member": onboarding.member("b-1", tenant="tenant-b"),
        "payments": onboarding.payments(tenant="tenant-b"),
    }
    answers: dict[str, dict[str, int]] = {}
    for route in routes(onboarding):
        if route in UNSCOPED:
            continue
        method, path = route.split(" ", 1)
        body = BODY_ROUTES[route](ids) if route in BODY_ROUTES else BODIES.get(route)
        seen = {}
        for name, headers in principals.items():
            response = await onboarding.client.request(
                method, OB + fill(path, ids), headers=headers, json=body
            )
            seen[name] = response.status_code
        answers[route] = seen
    wrong = {r: s for r, s in answers.items() if any(not refused(code) for code in s.values())}
    assert not wrong, f"another tenant's ids did not give 403/404: {wrong}"
    no_404 = {r: s for r, s in answers.items() if 404 not in s.values()}
    assert not no_404, f"no principal of tenant B reached a 404: {no_404}"


async def test_lists_show_nothing_of_a(onboarding: Onboarding) -> None:
    await tenant_a_objects(onboarding)
    owner_b = onboarding.operator(tenant="tenant-b")
    for route in sorted(UNSCOPED):
        method, path = route.split(" ", 1)
        if method != "GET" or path.startswith("/me/") or path == "/whoami":
            continue
        response = await onboarding.client.get(OB + path, headers=owner_b)
        assert response.status_code == 200, (route, response.text)
        assert response.json()["items"] == [], route
    member_b = onboarding.member("a-1", tenant="tenant-b")  # same external id, other tenant
    for path in ("/me/memberships", "/me/applications", "/me/roles", "/me/sanctions"):
        response = await onboarding.client.get(OB + path, headers=member_b)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        assert (body["items"] if isinstance(body, dict) and "items" in body else body) in (
            [],
            {},
        ), path
