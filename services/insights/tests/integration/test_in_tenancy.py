"""Every route, called by another tenant with the first tenant's ids, is turned away.

Tenant A has a community with members, engagement, a community admin and a silent
member. Tenant B's owner and a B member with the same external id as A's community admin
call every route of the OpenAPI document naming A's community (path or ``community_id``).
No call may succeed, fail with a 5xx, or stop at validation; each route answers 404 to at
least one of B's principals (a member with no community role is turned away earlier with
403). Without a community, B's lists show nothing of A. A route added later without an
entry here fails ``test_every_route_is_covered``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .conftest import IN, OTHER, T0, Api, checkin, community, joined, role

B = OTHER
BODIES: dict[str, Any] = {
    "PUT /communities/{community_id}/settings": {"silent_after_days": 3, "holdout_percent": 0},
}
# Reports of every community the caller may read: A's community named in the query.
REPORTS = {
    "GET /summary",
    "GET /series",
    "GET /cohorts",
    "GET /channels",
    "GET /silent",
    "GET /reactivation",
}
UNSCOPED = {"GET /whoami"}


def routes(api: Api) -> list[str]:
    paths = api.app.openapi()["paths"]
    return sorted(
        f"{method.upper()} {path.removeprefix(IN)}"
        for path, operations in paths.items()
        if path.startswith(IN)
        for method in operations
    )


async def tenant_a(api: Api) -> None:
    await api.deliver(community("c-1"), joined("boss"), joined("m1"), role("g-1", "boss", "c-1"))
    await api.deliver(checkin("k1", "m1", at=T0 + timedelta(hours=1)))
    assert await api.fire_timers(T0 + timedelta(days=30)) == 2  # both go silent


async def test_every_route_is_covered(api: Api) -> None:
    scoped = {r for r in routes(api) if "{" in r}
    missing = set(routes(api)) - scoped - set(BODIES) - REPORTS - UNSCOPED
    assert not missing, f"add these routes to test_in_tenancy.py: {sorted(missing)}"


async def test_another_tenant_is_turned_away_on_every_route(api: Api) -> None:
    await tenant_a(api)
    await api.deliver(community("c-b", tenant_id=B), role("g-b", "boss", "c-b", tenant_id=B))
    principals = {"owner": api.operator("owner", tenant_id=B), "admin": api.member("boss", B)}
    answers: dict[str, dict[str, int]] = {}
    for route in routes(api):
        if route in UNSCOPED:
            continue
        method, path = route.split(" ", 1)
        url = IN + path.replace("{community_id}", "c-1")
        params = {"community_id": "c-1"} if route in REPORTS else None
        answers[route] = {
            name: (
                await api.client.request(
                    method, url, headers=headers, json=BODIES.get(route), params=params
                )
            ).status_code
            for name, headers in principals.items()
        }
    wrong = {r: s for r, s in answers.items() if any(c not in (403, 404) for c in s.values())}
    assert not wrong, f"another tenant's ids did not give 403/404: {wrong}"
    no_404 = {r: s for r, s in answers.items() if 404 not in s.values()}
    assert not no_404, f"no principal of tenant B reached a 404: {no_404}"
    # A's settings are untouched
    settings = await api.get("/communities/c-1/settings")
    assert settings["silent_after_days"] == 14


async def test_lists_show_nothing_of_another_tenant(api: Api) -> None:
    await tenant_a(api)
    await api.deliver(community("c-b", tenant_id=B), role("g-b", "boss", "c-b", tenant_id=B))
    for headers in (api.operator("owner", tenant_id=B), api.member("boss", B)):
        summary = await api.get("/summary", headers=headers)
        assert [c["community_id"] for c in summary["communities"]] == ["c-b"]
        assert (await api.get("/silent", headers=headers))["items"] == []
        report = await api.get("/reactivation", headers=headers)
        assert report["contacted"]["silent"] + report["held_out"]["silent"] == 0
        channels = await api.get("/channels", headers=headers)
        assert channels["channels"] == []
        cohorts = await api.get("/cohorts", headers=headers)
        assert cohorts["cohorts"] == []
