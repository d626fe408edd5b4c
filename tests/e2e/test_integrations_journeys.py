"""Integrations through the gateway, over real HTTP and Kafka: an owner registers a webhook
endpoint for ``membership.*`` and ``points.*``; a member joins an open community and gets
the join bonus; the endpoint (a real HTTP server here) receives both, signed (verified by
the standardwebhooks library), and the pull feed returns the same events."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from standardwebhooks.webhooks import Webhook

from quanzi_devstack.run import Platform
from servicekit.testing import served_in_a_thread

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
WH = "/v1/integrations/webhooks"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def receiver_app(received: list[tuple[dict[str, str], bytes]]) -> FastAPI:
    app = FastAPI()
    lock = threading.Lock()

    @app.post("/hooks")
    async def hook(request: Request) -> PlainTextResponse:
        body = await request.body()
        with lock:
            received.append((dict(request.headers), body))
        return PlainTextResponse("ok")

    return app


def eventually(read: Callable[[], Any], timeout_s: float = 45) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (seen := read()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.3)
    return seen


def test_an_endpoint_receives_a_join_and_its_points_signed_and_the_feed_agrees(
    platform: Platform, tenant: Tenant
) -> None:
    suffix = uuid.uuid4().hex[:8]
    received: list[tuple[dict[str, str], bytes]] = []
    with (
        served_in_a_thread(receiver_app(received)) as receiver,
        httpx.Client(base_url=platform.gateway_url, timeout=20) as client,
    ):
        owner = bearer(tenant.owner_token)
        endpoint = client.post(
            f"{WH}/endpoints",
            headers=owner,
            json={"url": receiver + "/hooks", "event_types": ["membership.*", "points.*"]},
        )
        assert endpoint.status_code == 201, endpoint.text
        secret = endpoint.json()["secret"]
        community = client.post(
            f"{OB}/communities", headers=owner, json={"slug": f"hooks-{suffix}", "name": "钩子群"}
        )
        assert community.status_code == 201, community.text
        member_id = f"crm-{suffix}"
        minted = client.post(
            "/v1/member-tokens",
            headers={"X-Api-Key": tenant.api_key},
            json={"external_id": member_id, "profile": {"display_name": "小林"}},
        )
        assert minted.status_code == 201, minted.text
        joined = client.post(
            f"{OB}/communities/{community.json()['id']}/join",
            headers=bearer(minted.json()["access_token"]),
        )
        assert joined.status_code == 201, joined.text

        def ours() -> dict[str, dict[str, Any]]:
            found = {}
            for headers, body in list(received):
                message = Webhook(secret).verify(body, headers)  # every one signed
                if message["data"].get("member_id") == member_id:
                    found[message["type"]] = {**message, "webhook-id": headers["webhook-id"]}
            return found if {"membership.activated", "points.credited"} <= set(found) else {}

        messages = eventually(ours)
        feed_types = ["membership.*", "points.*"]

        def in_feed() -> list[dict[str, Any]]:
            answer = client.get(
                "/v1/integrations/events",
                params={"types": feed_types, "limit": 500},
                headers={"X-Api-Key": tenant.api_key},
            )
            assert answer.status_code == 200, answer.text
            items = [e for e in answer.json()["items"] if e["data"].get("member_id") == member_id]
            return items if len(items) >= 2 else []

        feed = eventually(in_feed)
        by_type = {e["type"]: e for e in feed}
        for kind in ("membership.activated", "points.credited"):
            assert messages[kind]["webhook-id"] == "msg_" + by_type[kind]["id"].replace("-", "")
            assert messages[kind]["data"] == by_type[kind]["data"]
        deliveries = client.get(
            f"{WH}/endpoints/{endpoint.json()['id']}/deliveries", headers=owner
        ).json()["items"]
        assert {d["status"] for d in deliveries} == {"delivered"}


def test_a_crm_bulk_upsert_of_a_thousand_chinese_contacts_is_idempotent(
    platform: Platform, tenant: Tenant
) -> None:
    """The CRM (the tenant's API key) pushes 1,000 contacts with Chinese names in one request
    with an Idempotency-Key, then again (a retry): the same answer, no second effect; the
    owner's mapping (mobile → phone, nickname → display_name) applies; onboarding's member
    directory, fed by integrations' contacts.received events, lists each contact once."""
    suffix = uuid.uuid4().hex[:8]
    crm = {"X-Api-Key": tenant.api_key}
    names = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
    contacts = [
        {
            "external_id": f"crm{suffix}-{i:04d}",
            "fields": {
                "nickname": f"{names[i % len(names)]}小{i}",
                "mobile": f"138{i:08d}",
                "城市": "深圳",
            },
            "tags": [f"导入{suffix}"],
        }
        for i in range(1000)
    ]
    with httpx.Client(base_url=platform.gateway_url, timeout=60) as client:
        mapping = client.put(
            "/v1/integrations/crm/mapping",
            headers=bearer(tenant.owner_token),
            json={"fields": {"mobile": "phone", "nickname": "display_name"}},
        )
        assert mapping.status_code == 200, mapping.text
        headers = {**crm, "Idempotency-Key": f"crm-import-{suffix}"}
        body = {"contacts": contacts}
        first = client.post("/v1/integrations/crm/contacts/batch", headers=headers, json=body)
        assert first.status_code == 202, first.text
        assert (first.json()["accepted"], first.json()["failed"]) == (1000, 0)
        again = client.post("/v1/integrations/crm/contacts/batch", headers=headers, json=body)
        assert again.status_code == 202 and again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"

        def listed() -> list[dict[str, Any]]:
            members: list[dict[str, Any]] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"tag": f"导入{suffix}", "limit": 200}
                if cursor:
                    params["cursor"] = cursor
                page = client.get("/v1/onboarding/members", headers=crm, params=params)
                assert page.status_code == 200, page.text
                members += page.json()["items"]
                cursor = page.json()["next_cursor"]
                if not cursor:
                    return members if len(members) >= 1000 else []

        members = eventually(listed, timeout_s=90)
        by_id = {m["external_id"]: m for m in members}
        assert len(members) == len(by_id) == 1000  # each contact once
        for i in (0, 17, 999):
            member = by_id[f"crm{suffix}-{i:04d}"]
            assert member["display_name"] == contacts[i]["fields"]["nickname"]
            assert member["profile"] == {"phone": f"138{i:08d}", "城市": "深圳"}
            assert member["tags"] == [f"导入{suffix}"]
