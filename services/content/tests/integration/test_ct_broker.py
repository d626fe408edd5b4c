"""The audience projection fed by the real dev broker: onboarding's and rewards' events go
through the consumer (inbox, batches) and decide who may post; content's own events leave
through the relay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

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
