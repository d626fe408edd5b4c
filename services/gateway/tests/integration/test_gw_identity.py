"""Identity through the gateway's API on SQLite and PostgreSQL: tenants, operators,
sign-in, refresh rotation, password reset, API keys, member tokens."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import jwt
import pytest

from servicekit.contracts import Registry
from servicekit.events import decode

if TYPE_CHECKING:
    from conftest import Gateway


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_platform_endpoints_need_the_platform_credential(gateway: Gateway) -> None:
    body = {"slug": "acme", "name": "Acme", "owner_email": "o@acme.example", "owner_name": "O"}
    assert (await gateway.client.post("/v1/platform/tenants", json=body)).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    refused = await gateway.client.post("/v1/platform/tenants", json=body, headers=wrong)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await gateway.client.get("/v1/platform/tenants", headers=wrong)).status_code == 401


async def test_tenant_creation_validates_and_refuses_duplicates(gateway: Gateway) -> None:
    created = await gateway.new_tenant("acme-fitness")
    assert created["tenant"]["status"] == "active"
    assert created["owner_invitation"]["email"] == "owner@example.com"
    assert "invitation_token" not in str(created)  # tokens only reach the mailer ...
    # ... and, with no SMTP configured, the platform admin as a link to hand over.
    assert "/accept-invitation?token=" in created["owner_invitation"]["invitation_url"]
    again = await gateway.client.post(
        "/v1/platform/tenants",
        headers=gateway.platform(),
        json={"slug": "acme-fitness", "name": "X", "owner_email": "a@b.c", "owner_name": "A"},
    )
    assert again.status_code == 409
    for bad in (
        {"slug": "No Spaces!"},
        {"plan": "galactic"},
        {"owner_email": "not-an-email"},
        {"extra": 1},
    ):
        body = {"slug": "fine-slug", "name": "N", "owner_email": "a@b.c", "owner_name": "A", **bad}
        answer = await gateway.client.post(
            "/v1/platform/tenants", json=body, headers=gateway.platform()
        )
        assert answer.status_code == 422, (bad, answer.text)
    listed = await gateway.client.get("/v1/platform/tenants", headers=gateway.platform())
    assert [t["slug"] for t in listed.json()["items"]] == ["acme-fitness"]


async def test_a_tenant_has_a_time_zone_set_at_creation_and_changed_by_the_admin(
    gateway: Gateway,
) -> None:
    made = await gateway.new_tenant("zoned")
    assert made["tenant"]["timezone"] == "Asia/Shanghai"  # the communities' default
    tenant_id = made["tenant"]["id"]
    body = {"slug": "new-york", "name": "NY", "owner_email": "o@ny.example", "owner_name": "O"}
    for wrong in ("Mars/Olympus", "UTC+8", ""):
        answer = await gateway.client.post(
            "/v1/platform/tenants", json={**body, "timezone": wrong}, headers=gateway.platform()
        )
        assert answer.status_code == 422, answer.text
    created = await gateway.client.post(
        "/v1/platform/tenants",
        json={**body, "timezone": "America/New_York"},
        headers=gateway.platform(),
    )
    assert created.json()["tenant"]["timezone"] == "America/New_York"
    url = f"/v1/platform/tenants/{tenant_id}"
    refused = await gateway.client.patch(
        url, json={"timezone": "Nowhere/City"}, headers=gateway.platform()
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/invalid-timezone")
    gold = await gateway.client.patch(url, json={"plan": "gold"}, headers=gateway.platform())
    assert gold.status_code == 422 and gold.json()["type"].endswith("/unknown-plan")
    assert (await gateway.client.patch(url, json={"timezone": "Europe/Paris"})).status_code == 401
    missing = "/v1/platform/tenants/00000000-0000-0000-0000-000000000000"
    answer = await gateway.client.patch(
        missing, json={"timezone": "UTC"}, headers=gateway.platform()
    )
    assert answer.status_code == 404
    changed = await gateway.client.patch(
        url, json={"timezone": "Europe/Paris"}, headers=gateway.platform()
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Europe/Paris"
    again = await gateway.client.patch(
        url, json={"timezone": "Europe/Paris"}, headers=gateway.platform()
    )
    assert again.status_code == 200  # no change: no event
    got = await gateway.client.get(url, headers=gateway.platform())
    assert got.json()["timezone"] == "Europe/Paris"
    created_events = await gateway.events("quanzi.gateway.tenant.created.v1")
    assert [e["timezone"] for e in created_events] == ["Asia/Shanghai", "America/New_York"]
    updated = await gateway.events("quanzi.gateway.tenant.updated.v1")
    assert [(e["tenant_id"], e["changes"], e["timezone"]) for e in updated] == [
        (tenant_id, ["timezone"], "Europe/Paris")
    ]
    assert updated[0]["_headers"]["ce_tenantid"] == tenant_id


async def test_tenants_are_paged_with_cursors(gateway: Gateway) -> None:
    for i in range(5):
        await gateway.new_tenant(f"tenant-{i}", owner=f"o{i}@x.example")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await gateway.client.get(
                "/v1/platform/tenants", params=params, headers=gateway.platform()
            )
        ).json()
        seen += [t["slug"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"tenant-{i}" for i in range(5)] and len(seen) == 5
    broken = await gateway.client.get(
        "/v1/platform/tenants", params={"cursor": "%%%"}, headers=gateway.platform()
    )
    assert broken.status_code == 400


async def test_invited_owner_signs_in_and_tokens_carry_the_tenant(gateway: Gateway) -> None:
    created, access = await gateway.owner_token("acme")
    who = await gateway.client.get("/v1/gateway/whoami", headers=bearer(access))
    assert who.status_code == 200
    assert who.json()["tenant_id"] == created["tenant"]["id"]
    assert who.json()["roles"] == ["owner"]
    claims = jwt.decode(access, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "tenant_id", "roles", "typ", "exp", "iat", "jti"} <= set(claims)
    assert jwt.get_unverified_header(access)["kid"] == gateway.app.state.signing_keys.current_kid


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(gateway: Gateway) -> None:
    await gateway.owner_token("acme")
    first = await gateway.login("acme", "owner@acme.example")
    rotated = await gateway.client.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first["refresh_token"]
    replay = await gateway.client.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401  # the stolen, already used token...
    after = await gateway.client.post("/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401  # ...revoked the rotated one as well


async def test_logout_revokes_and_garbage_refresh_tokens_are_refused(gateway: Gateway) -> None:
    await gateway.owner_token("acme")
    tokens = await gateway.login("acme", "owner@acme.example")
    out = await gateway.client.post(
        "/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert out.status_code == 204
    again = await gateway.client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == 401
    for garbage in ("", "x", "no-dot", "a.b.c", tokens["refresh_token"] + "x"):
        answer = await gateway.client.post("/v1/auth/refresh", json={"refresh_token": garbage})
        assert answer.status_code in (401, 422), garbage


async def test_failed_logins_back_off_then_lock(gateway: Gateway) -> None:
    await gateway.owner_token("acme")
    wrong = {"tenant": "acme", "email": "owner@acme.example", "password": "wrong password!"}
    statuses = [
        (await gateway.client.post("/v1/auth/login", json=wrong)).status_code for _ in range(3)
    ]
    assert statuses[:2] == [401, 401]
    assert statuses[2] == 429  # the third attempt came sooner than the backoff allows
    throttled = await gateway.client.post(
        "/v1/auth/login", json={**wrong, "password": "correct horse battery"}
    )
    assert throttled.status_code == 429  # even the right password waits
    assert int(throttled.headers["Retry-After"]) >= 1
    unknown = await gateway.client.post(
        "/v1/auth/login", json={**wrong, "email": "nobody@acme.example"}
    )
    assert unknown.status_code == 401
    assert (
        unknown.json()["type"]
        == (
            await gateway.client.post("/v1/auth/login", json={**wrong, "tenant": "no-such-tenant"})
        ).json()["type"]
    )


async def test_password_reset_by_one_time_token_ends_every_session(gateway: Gateway) -> None:
    await gateway.owner_token("acme")
    session = await gateway.login("acme", "owner@acme.example")
    silent = await gateway.client.post(
        "/v1/auth/password-reset", json={"tenant": "acme", "email": "ghost@acme.example"}
    )
    assert silent.status_code == 202
    assert await gateway.events("quanzi.gateway.password_reset.requested.v1") == []
    asked = await gateway.client.post(
        "/v1/auth/password-reset", json={"tenant": "acme", "email": "OWNER@acme.example"}
    )
    assert asked.status_code == 202
    # The same JSON body either way (the OpenAPI's): it never tells whether the email exists.
    assert asked.json() == silent.json() and set(silent.json()) == {"detail"}
    [reset] = await gateway.events("quanzi.gateway.password_reset.requested.v1")
    assert reset["_topic"] == "gateway.notifications"
    new_password = {"token": reset["reset_token"], "password": "a brand new secret"}
    short = await gateway.client.post(
        "/v1/auth/password-reset/confirm", json={**new_password, "password": "short"}
    )
    assert short.status_code == 422
    done = await gateway.client.post("/v1/auth/password-reset/confirm", json=new_password)
    assert done.status_code == 204
    reused = await gateway.client.post("/v1/auth/password-reset/confirm", json=new_password)
    assert reused.status_code == 401  # one time only
    old = await gateway.client.post(
        "/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert old.status_code == 401
    await gateway.login("acme", "owner@acme.example", password="a brand new secret")


async def test_api_keys_are_shown_once_work_for_member_tokens_and_revoke_at_once(
    gateway: Gateway,
) -> None:
    created, owner = await gateway.owner_token("acme")
    made = await gateway.client.post(
        "/v1/api-keys", headers=bearer(owner), json={"name": "CRM", "scopes": ["members:write"]}
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("qzk_" + made.json()["prefix"] + "_")
    listed = (await gateway.client.get("/v1/api-keys", headers=bearer(owner))).json()["items"]
    assert "key" not in listed[0] and listed[0]["prefix"] == made.json()["prefix"]

    minted = await gateway.client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": key},
        json={"external_id": "crm-42", "profile": {"display_name": "小林"}},
    )
    assert minted.status_code == 201, minted.text
    member = minted.json()["access_token"]
    who = (await gateway.client.get("/v1/gateway/whoami", headers=bearer(member))).json()
    assert who == {
        "tenant_id": created["tenant"]["id"],
        "subject": "crm-42",
        "roles": ["member"],
        "token_type": "member",
    }
    [identified] = await gateway.events("quanzi.gateway.member.identified.v1")
    assert identified["external_id"] == "crm-42" and identified["profile"]["display_name"] == "小林"
    # The app opened again with the same profile: a token, and no second event; a changed
    # profile is news.
    for profile in ({"display_name": "小林"}, {"display_name": "小林", "city": "杭州"}):
        again = await gateway.client.post(
            "/v1/member-tokens",
            headers={"X-Api-Key": key},
            json={"external_id": "crm-42", "profile": profile},
        )
        assert again.status_code == 201, again.text
    identified_events = await gateway.events("quanzi.gateway.member.identified.v1")
    assert [e["profile"] for e in identified_events] == [
        {"display_name": "小林"},
        {"display_name": "小林", "city": "杭州"},
    ]
    used = (await gateway.client.get("/v1/api-keys", headers=bearer(owner))).json()["items"]
    assert used[0]["last_used_at"] is not None

    revoked = await gateway.client.delete(
        f"/v1/api-keys/{made.json()['id']}", headers=bearer(owner)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await gateway.client.post(
        "/v1/member-tokens", headers={"X-Api-Key": key}, json={"external_id": "crm-42"}
    )
    assert after.status_code == 401


async def test_an_api_key_mints_member_tokens_at_a_backends_rate(gateway: Gateway) -> None:
    """A company's backend mints a token each time an app user opens the app: an API key
    gets a backend's bucket (standard plan: 300/s, burst 600), not a person's (20/s, 40)."""
    _, owner = await gateway.owner_token("acme")
    made = await gateway.client.post(
        "/v1/api-keys", headers=bearer(owner), json={"name": "App", "scopes": ["members:write"]}
    )
    key = made.json()["key"]
    statuses = [
        (
            await gateway.client.post(
                "/v1/member-tokens", headers={"X-Api-Key": key}, json={"external_id": f"u{i}"}
            )
        ).status_code
        for i in range(200)
    ]
    assert statuses == [201] * 200


async def test_control_characters_never_get_in(gateway: Gateway) -> None:
    _, owner = await gateway.owner_token("acme")
    key = (
        await gateway.client.post(
            "/v1/api-keys", headers=bearer(owner), json={"name": "CRM", "scopes": ["members:write"]}
        )
    ).json()["key"]
    for body in (
        {"external_id": "crm\u0000-1"},
        {"external_id": "crm\n-1"},
        {"external_id": "crm-1", "profile": {"display_name": "小\u0000林"}},
        {"external_id": "crm-1", "profile": {"display_name": "\u001b[31mred"}},
    ):
        answer = await gateway.client.post(
            "/v1/member-tokens", headers={"X-Api-Key": key}, json=body
        )
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    for url in ("/v1/api-keys/a%00b", "/v1/api-keys?cursor=%00"):
        answer = await gateway.client.get(url, headers=bearer(owner))
        assert answer.status_code == 400 and answer.json()["type"].endswith("/control-character")
    events = await gateway.events("quanzi.gateway.member.identified.v1")
    assert events == []


async def test_a_wrong_method_on_the_gateways_own_paths_is_a_405(gateway: Gateway) -> None:
    _, owner = await gateway.owner_token("acme")
    for method, url, allow in (
        ("DELETE", "/v1/operators", "GET, POST"),
        ("PUT", "/v1/platform/tenants", "GET, POST"),
        ("GET", "/v1/member-tokens", "POST"),
    ):
        answer = await gateway.client.request(method, url, headers=bearer(owner))
        assert answer.status_code == 405, (method, url, answer.text)
        assert answer.headers["allow"] == allow
        assert answer.headers["content-type"] == "application/problem+json"
    assert (await gateway.client.get("/v1/nowhere", headers=bearer(owner))).status_code == 404


async def test_api_key_scopes_and_bad_keys(gateway: Gateway) -> None:
    _, owner = await gateway.owner_token("acme")
    read_only = (
        await gateway.client.post(
            "/v1/api-keys", headers=bearer(owner), json={"name": "BI", "scopes": ["read"]}
        )
    ).json()["key"]
    denied = await gateway.client.post(
        "/v1/member-tokens", headers={"X-Api-Key": read_only}, json={"external_id": "m1"}
    )
    assert denied.status_code == 403
    bogus = await gateway.client.post(
        "/v1/api-keys", headers=bearer(owner), json={"name": "X", "scopes": ["root"]}
    )
    assert bogus.status_code == 422
    for key in ("", "qzk_bad", read_only[:-3] + "xyz", "qzk_aaaaaaaa_" + "b" * 40):
        answer = await gateway.client.post(
            "/v1/member-tokens", headers={"X-Api-Key": key}, json={"external_id": "m1"}
        )
        assert answer.status_code == 401, key
    # A key beside a token (either one bad) is ambiguous: neither acts.
    crm = (
        await gateway.client.post(
            "/v1/api-keys", headers=bearer(owner), json={"name": "CRM", "scopes": ["members:write"]}
        )
    ).json()["key"]
    for token in (owner, "not-a-token"):
        both = await gateway.client.post(
            "/v1/member-tokens",
            headers={"X-Api-Key": crm, **bearer(token)},
            json={"external_id": "m1"},
        )
        assert both.status_code == 401 and "not both" in both.json()["detail"], both.text


MANAGER_CALLS = [
    ("GET", "/v1/operators", None),
    (
        "POST",
        "/v1/operators",
        {"email": "new@x.example", "display_name": "N", "roles": ["operator"]},
    ),
    ("GET", "/v1/api-keys", None),
    ("POST", "/v1/api-keys", {"name": "k", "scopes": ["read"]}),
]


@pytest.mark.parametrize("role", ["operator", "content_officer", "activity_officer", "admin"])
async def test_role_matrix_on_operator_endpoints(gateway: Gateway, role: str) -> None:
    _, owner = await gateway.owner_token("acme")
    token = await gateway.operator_token("acme", owner, f"{role}@acme.example", [role])
    for method, path, body in MANAGER_CALLS:
        answer = await gateway.client.request(method, path, json=body, headers=bearer(token))
        expected = {"GET": 200, "POST": 201} if role == "admin" else {"GET": 403, "POST": 403}
        assert answer.status_code == expected[method], (role, method, path, answer.text)
    if role == "admin":  # admins manage people, but never owners
        grant = await gateway.client.post(
            "/v1/operators",
            headers=bearer(token),
            json={"email": "boss@acme.example", "display_name": "B", "roles": ["owner"]},
        )
        assert grant.status_code == 403


async def test_members_and_disabled_operators_are_refused(gateway: Gateway) -> None:
    _, owner = await gateway.owner_token("acme")
    key = (
        await gateway.client.post(
            "/v1/api-keys", headers=bearer(owner), json={"name": "CRM", "scopes": ["members:write"]}
        )
    ).json()
    member = (
        await gateway.client.post(
            "/v1/member-tokens", headers={"X-Api-Key": key["key"]}, json={"external_id": "m1"}
        )
    ).json()["access_token"]
    for method, path, body in MANAGER_CALLS:
        answer = await gateway.client.request(method, path, json=body, headers=bearer(member))
        assert answer.status_code == 403
    op = await gateway.operator_token("acme", owner, "op@acme.example", ["operator"])
    op_id = (await gateway.client.get("/v1/gateway/whoami", headers=bearer(op))).json()["subject"]
    disabled = await gateway.client.patch(
        f"/v1/operators/{op_id}", headers=bearer(owner), json={"disabled": True}
    )
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    refused = await gateway.client.post(
        "/v1/auth/login",
        json={"tenant": "acme", "email": "op@acme.example", "password": "correct horse battery"},
    )
    assert refused.status_code == 401


async def test_tenants_never_see_each_others_rows(gateway: Gateway) -> None:
    _, owner_a = await gateway.owner_token("tenant-a")
    _, owner_b = await gateway.owner_token("tenant-b")
    op_a = await gateway.client.post(
        "/v1/operators",
        headers=bearer(owner_a),
        json={"email": "op@a.example", "display_name": "A", "roles": ["operator"]},
    )
    key_a = await gateway.client.post(
        "/v1/api-keys", headers=bearer(owner_a), json={"name": "A", "scopes": ["read"]}
    )
    op_id, key_id = op_a.json()["id"], key_a.json()["id"]
    assert (
        await gateway.client.get(f"/v1/operators/{op_id}", headers=bearer(owner_b))
    ).status_code == 404
    assert (
        await gateway.client.patch(
            f"/v1/operators/{op_id}", headers=bearer(owner_b), json={"disabled": True}
        )
    ).status_code == 404
    assert (
        await gateway.client.delete(f"/v1/api-keys/{key_id}", headers=bearer(owner_b))
    ).status_code == 404
    ops_b = (await gateway.client.get("/v1/operators", headers=bearer(owner_b))).json()["items"]
    keys_b = (await gateway.client.get("/v1/api-keys", headers=bearer(owner_b))).json()["items"]
    assert [o["email"] for o in ops_b] == ["owner@tenant-b.example"]
    assert keys_b == []


async def test_suspended_tenant_gets_403_everywhere_until_reactivated(gateway: Gateway) -> None:
    created, owner = await gateway.owner_token("acme")
    tenant_id = created["tenant"]["id"]
    key = (
        await gateway.client.post(
            "/v1/api-keys", headers=bearer(owner), json={"name": "CRM", "scopes": ["members:write"]}
        )
    ).json()
    tokens = await gateway.login("acme", "owner@acme.example")
    suspended = await gateway.client.post(
        f"/v1/platform/tenants/{tenant_id}/suspend",
        headers=gateway.platform(),
        json={"reason": "unpaid"},
    )
    assert suspended.json()["status"] == "suspended"
    checks = [
        await gateway.client.get("/v1/operators", headers=bearer(owner)),
        await gateway.client.post(
            "/v1/member-tokens", headers={"X-Api-Key": key["key"]}, json={"external_id": "m1"}
        ),
        await gateway.client.post(
            "/v1/auth/login",
            json={
                "tenant": "acme",
                "email": "owner@acme.example",
                "password": "correct horse battery",
            },
        ),
        await gateway.client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ),
    ]
    assert [c.status_code for c in checks] == [403, 403, 403, 403]
    assert checks[0].json()["type"].endswith("/tenant-suspended")
    await gateway.client.post(
        f"/v1/platform/tenants/{tenant_id}/reactivate",
        headers=gateway.platform(),
        json={"reason": "paid"},
    )
    assert (await gateway.client.get("/v1/operators", headers=bearer(owner))).status_code == 200
    kinds = [
        e["_headers"]["ce_type"]
        for e in await gateway.events("quanzi.gateway.tenant.suspended.v1")
        + await gateway.events("quanzi.gateway.tenant.reactivated.v1")
    ]
    assert kinds == ["quanzi.gateway.tenant.suspended.v1", "quanzi.gateway.tenant.reactivated.v1"]


async def test_every_event_written_matches_its_contract(gateway: Gateway) -> None:
    _, owner = await gateway.owner_token("acme")
    key = (
        await gateway.client.post(
            "/v1/api-keys", headers=bearer(owner), json={"name": "CRM", "scopes": ["members:write"]}
        )
    ).json()
    await gateway.client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": key["key"]},
        json={"external_id": "m1", "profile": {"display_name": "M"}},
    )
    await gateway.client.delete(f"/v1/api-keys/{key['id']}", headers=bearer(owner))
    await gateway.client.post(
        "/v1/auth/password-reset", json={"tenant": "acme", "email": "owner@acme.example"}
    )
    tenant_id = (await gateway.events("quanzi.gateway.tenant.created.v1"))[0]["tenant_id"]
    await gateway.client.patch(
        f"/v1/platform/tenants/{tenant_id}",
        json={"timezone": "America/New_York"},
        headers=gateway.platform(),
    )
    registry = Registry.load()
    types = set()
    for event_type in registry.topic_of("quanzi.gateway.tenant.created.v1").events + tuple(
        t for topic in registry.topics.values() if topic.producer == "gateway" for t in topic.events
    ):
        for data in await gateway.events(event_type):
            headers = [(k, v.encode()) for k, v in data.pop("_headers").items()]
            topic = data.pop("_topic")
            event = decode(topic, None, json.dumps(data).encode(), headers)
            registry.validate(event)
            types.add(event.type)
    assert types == {
        "quanzi.gateway.tenant.created.v1",
        "quanzi.gateway.tenant.updated.v1",
        "quanzi.gateway.operator.invited.v1",
        "quanzi.gateway.apikey.created.v1",
        "quanzi.gateway.member.identified.v1",
        "quanzi.gateway.apikey.revoked.v1",
        "quanzi.gateway.password_reset.requested.v1",
    }


async def test_values_the_database_cannot_store_are_a_4xx_not_a_500(
    gateway: Gateway, backend: str
) -> None:
    body = {
        "slug": "nul-tenant",
        "name": "A\u0000B",
        "owner_email": "o@n.example",
        "owner_name": "O",
    }
    answer = await gateway.client.post(
        "/v1/platform/tenants", json=body, headers=gateway.platform()
    )
    # Refused on both backends by the one text rule (servicekit.text), before any write.
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/validation-error")
    listed = await gateway.client.get("/v1/platform/tenants", headers=gateway.platform())
    assert listed.json()["items"] == []
