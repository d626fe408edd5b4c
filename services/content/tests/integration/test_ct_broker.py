"""The audience projection fed by the real dev broker: onboarding's and rewards' events go
through the consumer (inbox, batches) and decide who may post; insights' silences start
reactivation sequences; content's own events leave through the relay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from servicekit.events import Event
from servicekit.tables import inbox, outbox
from servicekit.types import utcnow

pytestmark = pytest.mark.broker


async def test_memberships_from_the_broker_decide_who_posts(live_api: Any) -> None:
    api = live_api
    now = utcnow()
    activated = api.membership("activated", "m-1", at=now - timedelta(days=1))
    community = api.community("c-1")
    await api.publish(community, activated, activated)  # a duplicate publish

    async def seated() -> bool:
        answer = await api.client.get(
            "/v1/content/communities/c-1/posts", headers=api.member("m-1")
        )
        return answer.status_code == 200

    await api.until(seated, "the activation reached the projection")
    assert (await api.post(api.member("m-1"))).status_code == 201

    until = (now + timedelta(days=1)).isoformat()
    mute = api.membership("muted", "m-1", muted_until=until, at=now)
    await api.publish(mute)

    async def muted() -> bool:
        answer = await api.post(api.member("m-1"))
        return answer.status_code == 403 and answer.json()["type"].endswith("/muted")

    await api.until(muted, "the mute reached the projection")

    async def relayed() -> bool:
        async with api.app.state.runtime.engine.connect() as connection:
            unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            return (await connection.execute(unsent)).scalar() == 0

    await api.until(relayed, "the relay published the held post")
    async with api.app.state.runtime.engine.connect() as connection:
        query = select(inbox.c.event_id).where(inbox.c.consumer_group == "content.audience")
        applied = list((await connection.execute(query)).scalars())
    # Each of ours is in the inbox (once: it is the key), so the duplicate publish was
    # skipped. Other tests of this worker share the broker and the group, so their events
    # may be there too.
    assert {community.id, activated.id, mute.id} <= set(applied)


async def test_a_refusal_leaves_through_the_relay_on_its_own_topic(live_api: Any) -> None:
    """Nothing of the refused post is written, yet its item.flagged reaches the broker on
    content.moderation, keyed by the member (what onboarding's strikes consumer reads)."""
    api = live_api
    member = f"m-{uuid.uuid4().hex[:8]}"
    await api.publish(
        api.community("c-1"), api.membership("activated", member, at=utcnow() - timedelta(days=1))
    )

    async def seated() -> bool:
        answer = await api.client.get(
            "/v1/content/communities/c-1/posts", headers=api.member(member)
        )
        return answer.status_code == 200

    await api.until(seated, "the activation reached the projection")
    rule = await api.client.post(
        "/v1/content/moderation/rules",
        json={"kind": "link", "pattern": "spam.example", "action": "block"},
        headers=api.operator("owner"),
    )
    assert rule.status_code == 201, rule.text
    refused = await api.post(api.member(member), body="领福利 https://www.spam.example/x")
    assert refused.status_code == 422 and refused.json()["rule_id"] == rule.json()["id"]

    consumer = AIOKafkaConsumer(
        "content.moderation",
        bootstrap_servers=api.app.state.settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                if record.key is not None and record.key.decode() == member:
                    break
    finally:
        await consumer.stop()
    headers = {name: value.decode() for name, value in record.headers}
    data = json.loads(record.value)
    assert headers["ce_type"] == "quanzi.content.item.flagged.v1"
    assert (data["target_id"], data["rule_kind"], data["rule_pattern"]) == (
        None,
        "link",
        "spam.example",
    )


def _insights(kind: str, member_id: str, **data: Any) -> Event:
    return Event(
        type=f"quanzi.insights.member.{kind}.v1",
        source="/insights",
        tenant_id="t-acme",
        topic="insights.members",
        key=member_id,
        data={"tenant_id": "t-acme", "community_id": "c-1", "member_id": member_id, **data},
    )


def _silence(member_id: str, since: datetime, *, held_out: bool) -> Event:
    return _insights(
        "went_silent",
        member_id,
        last_engaged_at=(since - timedelta(days=14)).isoformat(),
        silent_since=since.isoformat(),
        silent_after_days=14,
        held_out=held_out,
    )


async def test_insights_silences_from_the_broker_start_and_stop_reactivation(
    live_api: Any,
) -> None:
    """insights.members through the ``content.sequences`` group: a contacted member's
    silence starts a run whose first step goes out, a held-out member's starts nothing,
    and the return stops the run."""
    api = live_api
    contacted, held = (f"m-{uuid.uuid4().hex[:8]}" for _ in range(2))
    joined = utcnow() - timedelta(days=30)
    await api.publish(
        api.community("c-1"),
        *(api.membership("activated", m, at=joined) for m in (contacted, held)),
    )

    async def seated() -> bool:
        for member in (contacted, held):
            answer = await api.client.get(
                "/v1/content/communities/c-1/posts", headers=api.member(member)
            )
            if answer.status_code != 200:
                return False
        return True

    await api.until(seated, "the activations reached the projection")
    steps = [
        {"delay_s": 0, "kind": "message", "body": "好久不见"},
        {"delay_s": 86400, "kind": "message", "body": "还在吗"},
    ]
    created = await api.client.post(
        "/v1/content/sequences",
        json={"name": "唤醒", "trigger": "silent", "community_id": "c-1", "steps": steps},
        headers=api.operator(),
    )
    assert created.status_code == 201, created.text
    sequence_id = created.json()["id"]
    since = utcnow() - timedelta(hours=1)
    silences = [_silence(held, since, held_out=True), _silence(contacted, since, held_out=False)]
    await api.publish(*silences, silences[1])  # and a duplicate publish

    async def applied(*events: Event) -> bool:
        async with api.app.state.runtime.engine.connect() as connection:
            query = select(inbox.c.event_id).where(inbox.c.consumer_group == "content.sequences")
            return {e.id for e in events} <= set((await connection.execute(query)).scalars())

    await api.until(lambda: applied(*silences), "the silences reached the sequences group")
    await api.fire_timers(utcnow())
    delivered = await api.published("quanzi.content.sequence.step_delivered.v1")
    assert [(e.data["member_id"], e.data["step"]) for e in delivered] == [(contacted, 0)]

    def runs() -> Any:
        return api.client.get(f"/v1/content/sequences/{sequence_id}", headers=api.operator())

    assert (await runs()).json()["runs"] == {"running": 1, "done": 0, "stopped": 0}
    back = _insights(
        "reactivated",
        contacted,
        silent_since=since.isoformat(),
        reactivated_at=utcnow().isoformat(),
        held_out=False,
    )
    await api.publish(back)
    await api.until(lambda: applied(back), "the return reached the sequences group")
    assert (await runs()).json()["runs"] == {"running": 0, "done": 0, "stopped": 1}
    await api.fire_timers(utcnow() + timedelta(days=2))
    assert len(await api.published("quanzi.content.sequence.step_delivered.v1")) == 1
