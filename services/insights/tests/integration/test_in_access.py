"""Who reads what: owners and admins the tenant, community admins (a community role held
with a member token) their communities only, everyone else nothing."""

from __future__ import annotations

import pytest

from .conftest import IN, OTHER, Api, community, joined, role

ROUTES = ["/summary", "/series", "/cohorts", "/channels", "/silent", "/reactivation"]


async def test_owners_admins_and_community_admins(api: Api) -> None:
    await api.deliver(community("c-1"), community("c-2"), joined("m1"), joined("m2", "c-2"))
    await api.deliver(role("g-1", "boss", "c-1"), role("g-2", "mentor", "c-2", role_name="mentor"))
    for path in ROUTES:
        for roles in (("owner",), ("admin",)):
            answer = await api.client.get(f"{IN}{path}", headers=api.operator(*roles))
            assert answer.status_code == 200, (path, answer.text)
        mine = await api.client.get(f"{IN}{path}", headers=api.member("boss"))
        assert mine.status_code == 200, (path, mine.text)
        theirs = await api.client.get(
            f"{IN}{path}", params={"community_id": "c-2"}, headers=api.member("boss")
        )
        assert theirs.status_code == 404, path
        for headers in (api.member("mentor"), api.member("m1"), api.operator("operator")):
            refused = await api.client.get(f"{IN}{path}", headers=headers)
            assert refused.status_code == 403, path
        assert (await api.client.get(f"{IN}{path}")).status_code == 401
    summary = await api.get("/summary", headers=api.member("boss"))
    assert [c["community_id"] for c in summary["communities"]] == ["c-1"]
    owner = await api.get("/summary")
    assert [c["community_id"] for c in owner["communities"]] == ["c-1", "c-2"]
    # a revoked role reads nothing any more
    await api.deliver(role("g-1", "boss", "c-1", revoked=True))
    answer = await api.client.get(f"{IN}/summary", headers=api.member("boss"))
    assert answer.status_code == 403


@pytest.mark.parametrize("path", [*ROUTES, "/communities/c-1/settings"])
async def test_another_tenants_owner_sees_none_of_ours(api: Api, path: str) -> None:
    await api.deliver(community("c-1"), joined("m1"))
    answer = await api.client.get(
        f"{IN}{path}", params={"community_id": "c-1"}, headers=api.operator(tenant_id=OTHER)
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
