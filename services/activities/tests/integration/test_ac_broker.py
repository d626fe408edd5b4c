"""The membership projection fed by the real dev broker: onboarding's events go through
the consumer (inbox, batches) and decide who may check in; activities' own events leave
through the relay onto activities.campaigns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from servicekit.tables import inbox, outbox
from servicekit.types import utcnow

from .conftest import AC

pytestmark = pytest.mark.broker


async def test_memberships_from_the_broker_decide_who_checks_in(live_api: Any) -> None:
    api = live_api
    community_id = f"c-{uuid.uuid4().hex[:8]}"  # the broker is shared by the session's tests
    community = api.community(community_id)
    activated = api.membership("activated", "m-1", community_id, at=utcnow() - timedelta(hours=1))
    await api.publish(community, activated, activated)  # a duplicate publish
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    body = {
        "community_id": community_id,
        "title": "打卡",
        "start_date": (today - timedelta(days=1)).isoformat(),
        "end_date": (today + timedelta(days=1)).isoformat(),
        "required_days": 1,
    }

    async def set_up() -> Any:
        answer = await api.client.post(f"{AC}/challenges", json=body, headers=api.operator())
        return answer.status_code == 201 and answer.json()

    challenge = await api.until(set_up, "the community reached the projection")

    async def checked_in() -> bool:
        return (await api.check_in(challenge["id"], "m-1")).status_code == 201

    await api.until(checked_in, "the activation reached the projection")

    async def relayed() -> bool:
        async with api.app.state.runtime.engine.connect() as connection:
            unsent = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            return (await connection.execute(unsent)).scalar() == 0

    await api.until(relayed, "the relay published the check-in and the completion")
    assert {e.type for e in await api.published()} == {
        "quanzi.activities.checkin.recorded.v1",
        "quanzi.activities.challenge.completed.v1",
    }
    async with api.app.state.runtime.engine.connect() as connection:
        query = select(inbox.c.event_id).where(inbox.c.consumer_group == "activities.members")
        applied = list((await connection.execute(query)).scalars())
    # each applied once: the duplicate publish was skipped by the inbox
    assert applied.count(community.id) == applied.count(activated.id) == 1
