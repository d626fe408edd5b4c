"""Webhooks end to end inside the service: platform events → messages → a real HTTP
receiver, signed (checked by the standardwebhooks library), retried on the schedule by
the timers at test-clock instants, in order per member, logged, redelivered."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

from integrations.webhooks import attempts, endpoints
from integrations.webhooks import delivery as dispatching
from servicekit import timers

from .conftest import OTHER, TENANT, WH, Api, Receiver, Reply, platform_event

SECOND = timedelta(seconds=1)


def verify(secret: str, received: Any) -> dict[str, Any]:
    return Webhook(secret).verify(received.body, received.headers)  # type: ignore[no-any-return]


async def test_subscribed_events_arrive_signed_and_in_the_feed(
    api: Api, receiver: Receiver
) -> None:
    endpoint = await api.endpoint(receiver.url + "/hooks", event_types=["membership.*"])
    joined = platform_event("membership.activated", "crm-1", display_name="小林")
    credited = platform_event("points.credited", "crm-1")
    await api.consume(joined, credited)  # the first attempt goes when the poll commits
    assert await api.tick() == 0
    (message,) = receiver.received  # points.* is not subscribed: one message
    body = verify(endpoint["secret"], message)
    assert body["type"] == "membership.activated"
    assert body["data"]["member_id"] == "crm-1" and body["data"]["display_name"] == "小林"
    assert message.headers["webhook-id"] == "msg_" + joined.id.replace("-", "")
    assert message.path == "/hooks"
    (delivery,) = await api.deliveries(endpoint["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    detail = await api.detail(endpoint["id"], delivery["id"])
    assert detail["attempts_log"][0]["status_code"] == 200
    assert detail["attempts_log"][0]["response_excerpt"] == "ok"
    feed = await api.client.get("/v1/integrations/events", headers=api.owner())
    assert [e["type"] for e in feed.json()["items"]] == ["membership.activated", "points.credited"]


async def test_failures_retry_on_the_schedule_then_deliver_once(
    api: Api, receiver: Receiver
) -> None:
    endpoint = await api.endpoint(receiver.url)
    receiver.script = [Reply(500), Reply(500), Reply(503, {"retry-after": "3600"})]
    await api.consume(platform_event("membership.activated"))
    start = api.now[0]  # attempt 1 went at once: 500
    assert await api.tick(start + 4 * SECOND) == 0  # the retry is due 5 s later
    assert await api.tick(start + 5 * SECOND) == 1  # attempt 2: 500
    assert await api.tick(start + 5 * SECOND + timedelta(minutes=5)) == 1  # 3: 503, Retry-After
    (delivery,) = await api.deliveries(endpoint["id"])
    # Retry-After (1 h) postponed the schedule's 30 min.
    assert delivery["status"] == "pending" and delivery["attempts"] == 3
    assert await api.tick(api.now[0] + timedelta(minutes=30)) == 0
    assert await api.tick(api.now[0] + timedelta(minutes=30)) == 1  # 4: 200
    (delivery,) = await api.deliveries(endpoint["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert len(receiver.received) == 4
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message
    assert await api.tick(api.now[0] + timedelta(days=1)) == 0  # nothing more, ever


async def test_a_message_fails_after_the_last_retry(api: Api, receiver: Receiver) -> None:
    endpoint = await api.endpoint(receiver.url)
    receiver.default = Reply(500, body=b"x" * 100_000)  # a long answer: read up to a limit
    await api.consume(platform_event("membership.activated"))
    await api.tick()
    for _ in range(10):
        await api.tick(api.now[0] + timedelta(hours=10))
    (delivery,) = await api.deliveries(endpoint["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 8
    detail = await api.detail(endpoint["id"], delivery["id"])
    assert len(detail["attempts_log"]) == 8
    assert len(detail["attempts_log"][0]["response_excerpt"]) == 1024


async def test_messages_about_one_member_keep_their_order(api: Api, receiver: Receiver) -> None:
    await api.endpoint(receiver.url)
    receiver.script = [Reply(500)]  # m-1's first message fails once
    await api.consume(
        platform_event("membership.activated", "m-1"),
        platform_event("points.credited", "m-1"),  # waits for the first
    )
    await api.consume(platform_event("points.credited", "m-2"))  # goes at once
    await api.tick(api.now[0] + 5 * SECOND)  # m-1's retry, then its next message is due
    await api.tick()
    kinds = [(r.json()["data"]["member_id"], r.json()["type"]) for r in receiver.received]
    assert kinds == [
        ("m-1", "membership.activated"),  # 500
        ("m-2", "points.credited"),
        ("m-1", "membership.activated"),
        ("m-1", "points.credited"),
    ]


async def test_a_rotated_secret_signs_beside_the_previous_one(api: Api, receiver: Receiver) -> None:
    endpoint = await api.endpoint(receiver.url)
    old = endpoint["secret"]
    rotated = await api.client.post(
        f"{WH}/endpoints/{endpoint['id']}/secret/rotate", headers=api.owner()
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_valid_until"] is not None
    await api.consume(platform_event("membership.activated"))
    await api.tick()
    for secret in (old, new):  # receivers holding either verify it
        verify(secret, receiver.received[-1])
    api.later(timedelta(hours=25))  # the overlap is over: the new secret alone
    await api.consume(platform_event("points.credited"))
    await api.tick()
    assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 1
    verify(new, receiver.received[-1])
    secret = await api.client.get(f"{WH}/endpoints/{endpoint['id']}/secret", headers=api.owner())
    assert secret.json() == {"secret": new, "previous_secret_valid_until": None}


async def test_a_crash_mid_delivery_loses_nothing(api: Api, receiver: Receiver) -> None:
    """The process claimed the attempt and died before recording it (no dispatcher ran):
    the lease timer counts it as interrupted and the message goes on the schedule."""
    endpoint = await api.endpoint(receiver.url)
    engine, dispatcher = api.app.state.runtime.engine, api.app.state.dispatcher
    dispatching.unregister(engine)  # no dispatcher: the first attempt waits for its timer
    await api.consume(platform_event("membership.activated"), wait=False)
    dispatching.register(engine, dispatcher)
    sessions = api.app.state.sessions
    async with sessions() as session, session.begin():
        (delivery,) = await api.deliveries(endpoint["id"])
        policy = endpoints.Policy.of(api.settings)
        job = await attempts.claim(session, delivery["id"], api.now[0], policy)
        assert job is not None and job.attempt == 1
        await timers.cancel(session, attempts.ATTEMPT_TIMER, str(delivery["id"]))
    assert await api.tick(api.now[0] + timedelta(seconds=64)) == 0  # the lease still runs
    assert await api.tick(api.now[0] + timedelta(seconds=2)) == 1  # lease over: interrupted
    assert await api.tick(api.now[0] + 5 * SECOND) == 1  # the retry
    (delivery,) = await api.deliveries(endpoint["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    log = (await api.detail(endpoint["id"], delivery["id"]))["attempts_log"]
    assert log[0]["error"].startswith("interrupted") and log[1]["status_code"] == 200
    assert len(receiver.received) == 1


async def test_a_slow_endpoint_does_not_delay_another_tenants(api: Api) -> None:
    slow, fast = Receiver().start(), Receiver().start()
    try:
        slow.default = Reply(delay_s=3.0)
        slow_endpoint = await api.endpoint(slow.url)
        fast_endpoint = await api.endpoint(fast.url, OTHER)
        await api.consume(
            platform_event("membership.activated", "m-1"),
            platform_event("membership.activated", "m-9", tenant_id=OTHER),
            wait=False,
        )  # both requests start when the poll commits
        loop = asyncio.get_running_loop()
        started = loop.time()
        while (
            not fast.received
            or (await api.deliveries(fast_endpoint["id"], OTHER))[0]["status"] != "delivered"
        ):
            await asyncio.sleep(0.02)
            assert loop.time() - started < 2.0, "the fast endpoint waited for the slow one"
        (pending,) = await api.deliveries(slow_endpoint["id"])
        assert pending["status"] == "sending"
        await api.app.state.dispatcher.idle()
        (done,) = await api.deliveries(slow_endpoint["id"])
        assert done["status"] == "delivered"
    finally:
        slow.stop()
        fast.stop()


async def test_timeouts_and_redirects_are_failed_attempts(api: Api, receiver: Receiver) -> None:
    api.settings.webhooks_timeout_s = 0.5
    api.app.state.dispatcher.settings.webhooks_timeout_s = 0.5
    endpoint = await api.endpoint(receiver.url)
    receiver.script = [
        Reply(delay_s=1.5),
        Reply(302, {"location": "http://169.254.169.254/latest/meta-data/"}),
    ]
    await api.consume(platform_event("membership.activated"))
    await api.tick()
    await api.tick(api.now[0] + 5 * SECOND)
    (delivery,) = await api.deliveries(endpoint["id"])
    log = (await api.detail(endpoint["id"], delivery["id"]))["attempts_log"]
    assert log[0]["error"] == "timeout"
    assert log[1]["status_code"] == 302  # not followed: the receiver saw two requests, no more
    assert delivery["status"] == "pending" and len(receiver.received) == 2


async def test_redeliver_recover_and_test_events(api: Api, receiver: Receiver) -> None:
    endpoint = await api.endpoint(receiver.url)
    base = f"{WH}/endpoints/{endpoint['id']}"
    receiver.default = Reply(500)
    await api.consume(platform_event("membership.activated", "m-1"))
    await api.consume(platform_event("membership.activated", "m-2"))
    since = api.now[0]
    await api.tick()
    for _ in range(8):
        await api.tick(api.now[0] + timedelta(hours=10))
    first, second = await api.deliveries(endpoint["id"])
    assert first["status"] == second["status"] == "failed"
    receiver.default = Reply(204)
    again = await api.client.post(f"{base}/deliveries/{first['id']}/redeliver", headers=api.owner())
    assert again.status_code == 202 and again.json()["status"] == "pending"
    busy = await api.client.post(f"{base}/deliveries/{first['id']}/redeliver", headers=api.owner())
    assert busy.status_code == 409
    await api.tick()
    recovered = await api.client.post(
        f"{base}/recover", json={"since": since.isoformat()}, headers=api.owner()
    )
    assert recovered.json() == {"count": 1}  # the first is delivered already
    await api.tick()
    assert [d["status"] for d in await api.deliveries(endpoint["id"])] == ["delivered"] * 2
    test = await api.client.post(f"{base}/test", headers=api.owner())
    assert test.status_code == 202, test.text
    await api.tick()
    assert verify(endpoint["secret"], receiver.received[-1])["type"] == "webhook.test"


async def test_an_endpoint_failing_for_days_is_disabled_and_announced(
    api: Api, receiver: Receiver
) -> None:
    endpoint = await api.endpoint(receiver.url)
    receiver.default = Reply(500)
    for day in range(6):
        await api.consume(platform_event("membership.activated", f"m-{day}"))
        await api.tick()
        await api.tick(api.now[0] + timedelta(days=1))
    found = await api.client.get(f"{WH}/endpoints/{endpoint['id']}", headers=api.owner())
    assert found.json()["enabled"] is False and found.json()["disabled_reason"] == "failing"
    (announced,) = await api.published("quanzi.integrations.endpoint.disabled.v1")
    assert announced.data["endpoint_id"] == endpoint["id"] and announced.tenant_id == TENANT
    sent = len(receiver.received)
    await api.consume(platform_event("membership.activated", "m-late"))
    await api.tick()
    assert len(receiver.received) == sent  # a disabled endpoint gets nothing
    enabled = await api.client.patch(
        f"{WH}/endpoints/{endpoint['id']}", json={"enabled": True}, headers=api.owner()
    )
    assert enabled.json()["enabled"] is True and enabled.json()["failing_since"] is None


async def test_a_rate_limited_endpoint_is_paced_and_no_other_waits(
    api: Api, receiver: Receiver
) -> None:
    """2 a second: five messages start at least 0.5 s apart while another tenant's endpoint
    gets its five before the paced ones are through. At 1 a second, a slot beyond the
    horizon waits as a timer (no attempt spent) and goes at its slot."""
    other = Receiver().start()
    try:
        limited = await api.endpoint(receiver.url, rate_limit_per_s=2)
        assert limited["rate_limit_per_s"] == 2
        await api.endpoint(other.url, OTHER)
        dispatcher = api.app.state.dispatcher
        loop = asyncio.get_running_loop()
        starts: list[float] = []  # when the dispatcher starts each request to the limited one
        post = dispatcher.post

        async def timed(job: attempts.Job) -> attempts.Outcome:
            if job.endpoint_id == limited["id"]:
                starts.append(loop.time())
            return await post(job)

        dispatcher.post = timed
        events = [platform_event("membership.activated", f"m-{i}") for i in range(5)]
        events += [
            platform_event("membership.activated", f"x-{i}", tenant_id=OTHER) for i in range(5)
        ]
        await api.consume(*events)
        paced = [r.at for r in receiver.received]
        assert len(paced) == 5 and len(other.received) == 5 and len(starts) == 5
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.499
        assert max(r.at for r in other.received) < paced[-1], "the other endpoint waited"
        assert {d["status"] for d in await api.deliveries(limited["id"])} == {"delivered"}

        slower = await api.client.patch(
            f"{WH}/endpoints/{limited['id']}", json={"rate_limit_per_s": 1}, headers=api.owner()
        )
        assert slower.status_code == 200 and slower.json()["rate_limit_per_s"] == 1
        t0 = api.later(timedelta(minutes=1))
        await api.consume(*[platform_event("membership.activated", f"n-{i}") for i in range(4)])
        assert len(receiver.received) == 5 + 3  # slots 0, 1 and 2 s: within the horizon
        (waiting,) = [d for d in await api.deliveries(limited["id"]) if d["status"] == "pending"]
        assert waiting["attempts"] == 0
        assert datetime.fromisoformat(waiting["next_attempt_at"]) == t0 + 3 * SECOND
        assert await api.tick(t0 + 2 * SECOND) == 0  # not before its slot
        assert await api.tick(t0 + 3 * SECOND) == 1
        deliveries = await api.deliveries(limited["id"])
        assert len(receiver.received) == 9 and len(deliveries) == 9
        assert {(d["status"], d["attempts"]) for d in deliveries} == {("delivered", 1)}
        unlimited = await api.client.patch(
            f"{WH}/endpoints/{limited['id']}", json={"rate_limit_per_s": None}, headers=api.owner()
        )
        assert unlimited.json()["rate_limit_per_s"] is None
        zero = await api.client.patch(
            f"{WH}/endpoints/{limited['id']}", json={"rate_limit_per_s": 0}, headers=api.owner()
        )
        assert zero.status_code == 422
    finally:
        other.stop()
