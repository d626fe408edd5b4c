"""The API's rules: who manages endpoints, what URLs are refused (SSRF, when an endpoint is
saved and again at delivery), the feed's order, cursor, filters and retention, and every
route turning away another tenant."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from integrations.webhooks import api as webhooks_api

from .conftest import OTHER, WH, Api, Receiver, platform_event

FEED = "/v1/integrations/events"


async def test_owners_and_admins_manage_endpoints_members_and_operators_do_not(api: Api) -> None:
    body = {"url": "https://crm.example.com/hooks", "event_types": ["membership.*"]}
    for headers in (
        api.member(),
        api.owner("t-acme", "operator"),
        api.owner("t-acme", "integration"),
    ):
        assert (
            await api.client.post(f"{WH}/endpoints", json=body, headers=headers)
        ).status_code == 403
    created = await api.client.post(
        f"{WH}/endpoints", json=body, headers=api.owner("t-acme", "admin")
    )
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    listed = await api.client.get(f"{WH}/endpoints", headers=api.owner())
    assert [e["id"] for e in listed.json()["items"]] == [created.json()["id"]]
    assert "secret" not in listed.json()["items"][0]
    patched = await api.client.patch(
        f"{WH}/endpoints/{created.json()['id']}",
        json={"description": "企业微信 SCRM", "event_types": ["points.*", "membership.*"]},
        headers=api.owner(),
    )
    assert patched.json()["description"] == "企业微信 SCRM"
    assert patched.json()["event_types"] == ["membership.*", "points.*"]
    null = await api.client.patch(
        f"{WH}/endpoints/{created.json()['id']}", json={"url": None}, headers=api.owner()
    )
    assert null.status_code == 422
    gone = await api.client.delete(f"{WH}/endpoints/{created.json()['id']}", headers=api.owner())
    assert gone.status_code == 204
    assert (await api.client.get(f"{WH}/endpoints", headers=api.owner())).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.0.0.7/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "https://crm.internal.test/hooks",  # resolves (here) to loopback
        "http://crm.example.com/hooks",  # plain http outside development
    ],
)
async def test_private_and_local_endpoints_are_refused(
    api: Api, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "crm.internal.test" else ["93.184.216.34"]

    monkeypatch.setattr(webhooks_api, "resolve", resolve)
    monkeypatch.setattr(api.settings, "webhooks_allow_private", False)
    monkeypatch.setattr(api.settings, "webhooks_allow_http", False)
    answer = await api.client.post(f"{WH}/endpoints", json={"url": url}, headers=api.owner())
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    fine = await api.client.post(
        f"{WH}/endpoints", json={"url": "https://crm.example.com/hooks"}, headers=api.owner()
    )
    assert fine.status_code == 201, fine.text


async def test_addresses_are_checked_again_at_delivery(api: Api, receiver: Receiver) -> None:
    """A name that resolved to a public address when saved and to loopback later (DNS
    rebinding) is refused when the message goes; the receiver on loopback hears nothing."""
    endpoint = await api.endpoint(receiver.url.replace("127.0.0.1", "crm.rebound.test"))
    dispatcher = api.app.state.dispatcher

    async def rebound(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    dispatcher.resolver = rebound
    dispatcher.policy = replace(dispatcher.policy, allow_private=False)
    await api.consume(platform_event("membership.activated"))
    await api.tick()
    (delivery,) = await api.deliveries(endpoint["id"])
    (attempt,) = (await api.detail(endpoint["id"], delivery["id"]))["attempts_log"]
    assert attempt["error"] == "refused: a loopback address" and attempt["status_code"] is None
    assert receiver.received == []


async def test_the_feed_pages_in_order_filters_and_forgets(api: Api) -> None:
    events = [platform_event("membership.activated", f"m-{i}") for i in range(3)]
    events += [platform_event("points.credited", "m-0")]
    events += [platform_event("membership.activated", "x-1", tenant_id=OTHER)]
    await api.consume(*events)
    for caller in (api.owner(), api.owner("t-acme", "integration")):
        first = await api.client.get(f"{FEED}?limit=2", headers=caller)
        assert first.status_code == 200, first.text
        page = first.json()
        assert [e["id"] for e in page["items"]] == [events[0].id, events[1].id]
        assert page["has_more"] is True
        rest = (await api.client.get(f"{FEED}?after={page['next_cursor']}", headers=caller)).json()
        assert [e["id"] for e in rest["items"]] == [events[2].id, events[3].id]  # not OTHER's
        empty = (await api.client.get(f"{FEED}?after={rest['next_cursor']}", headers=caller)).json()
        assert empty == {"items": [], "next_cursor": rest["next_cursor"], "has_more": False}
    points = (await api.client.get(f"{FEED}?types=points.*", headers=api.owner())).json()
    assert [e["type"] for e in points["items"]] == ["points.credited"]
    assert points["items"][0]["data"]["member_id"] == "m-0"
    assert (await api.client.get(FEED, headers=api.member())).status_code == 403
    bad = await api.client.get(f"{FEED}?after=bm90LW91cnM", headers=api.owner())
    assert bad.status_code == 400
    api.later(timedelta(days=31))  # past the retention
    assert (await api.client.get(FEED, headers=api.owner())).json()["items"] == []
    await api.consume(platform_event("membership.activated", "m-new"))  # purges the old ones
    assert len((await api.client.get(FEED, headers=api.owner())).json()["items"]) == 1


async def test_every_route_turns_another_tenant_away(api: Api, receiver: Receiver) -> None:
    endpoint = await api.endpoint(receiver.url)
    await api.consume(platform_event("membership.activated"))
    await api.tick()
    (delivery,) = await api.deliveries(endpoint["id"])
    ids = {"endpoint_id": endpoint["id"], "delivery_id": str(delivery["id"])}
    bodies: dict[str, Any] = {
        "PATCH": {"description": "x"},
        "POST /recover": {"since": "2026-01-01T00:00:00+00:00"},
    }
    paths = api.app.openapi()["paths"]
    checked = 0
    for path, operations in paths.items():
        if "{endpoint_id}" not in path:
            continue
        for method in operations:
            url = path.format(**ids)
            body = bodies.get(method.upper()) or (
                bodies["POST /recover"] if path.endswith("/recover") else None
            )
            answer = await api.client.request(
                method.upper(), url, json=body, headers=api.owner(OTHER)
            )
            assert answer.status_code == 404, (method, path, answer.text)
            checked += 1
    assert checked == 10
    listed = await api.client.get(f"{WH}/endpoints", headers=api.owner(OTHER))
    assert listed.json()["items"] == []
    feed = await api.client.get(FEED, headers=api.owner(OTHER))
    assert feed.json()["items"] == []
    # CRM: the mapping is the caller's tenant's; contacts are published as the caller's.
    crm = "/v1/integrations/crm"
    mine = {"fields": {"mobile": "phone"}}
    assert (await api.client.put(f"{crm}/mapping", json=mine, headers=api.owner())).is_success
    theirs = await api.client.get(f"{crm}/mapping", headers=api.owner(OTHER))
    assert theirs.json()["fields"] == {}
    pushed = await api.client.put(
        f"{crm}/contacts/m-1", json={"fields": {"mobile": "1"}}, headers=api.owner(OTHER)
    )
    assert pushed.json()["member"]["profile"] == {"mobile": "1"}  # not mapped by ours
    batch = await api.client.post(
        f"{crm}/contacts/batch",
        json={"contacts": [{"external_id": "m-2"}]},
        headers=api.owner(OTHER),
    )
    assert batch.status_code == 202
    received = await api.published("quanzi.integrations.contacts.received.v1")
    assert {e.tenant_id for e in received} == {OTHER}
    still = await api.client.get(f"{WH}/endpoints/{endpoint['id']}", headers=api.owner())
    assert still.json()["description"] == "" and still.json()["enabled"] is True
    # Exports: another tenant neither lists nor downloads ours, ready or pending.
    exports = "/v1/integrations/exports"
    ready = (await api.client.post(exports, headers=api.owner())).json()
    await api.tick(exports=True)
    pending = (await api.client.post(exports, headers=api.owner())).json()
    export_paths = [path for path in paths if "{export_id}" in path]
    assert export_paths == [f"{exports}/{{export_id}}"]
    for made in (ready, pending):
        for path in export_paths:
            answer = await api.client.get(
                path.format(export_id=made["id"]), headers=api.owner(OTHER)
            )
            assert answer.status_code == 404, answer.text
    assert (await api.client.get(exports, headers=api.owner(OTHER))).json()["items"] == []
    ours = await api.client.get(f"{exports}/{ready['id']}", headers=api.owner())
    assert ours.status_code == 200 and ours.content.startswith(b"\xef\xbb\xbf")
