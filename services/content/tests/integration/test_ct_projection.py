"""The audience projection as the consumer applies it: a poll's events in one transaction,
runs of one type in one batched call, in any order, against the same events one by one."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from content.audience.domain import fold
from content.audience.events import MEMBERSHIP_FACTS
from content.audience.repository import AudienceRepository
from servicekit.db import read_only
from servicekit.types import utcnow


def _history(api: Any, member: str, community: str) -> list[Any]:
    t0 = utcnow() - timedelta(days=10)
    at = [t0 + timedelta(hours=n) for n in range(8)]
    return [
        api.membership("activated", member, community, at=at[0], tier="trial", group_id="g-t"),
        api.membership(
            "tier_changed",
            member,
            community,
            at=at[1],
            from_tier="trial",
            to_tier="core",
            from_group_id="g-t",
            to_group_id="g-c",
            reason="payment",
        ),
        api.membership("muted", member, community, at=at[2], muted_until=at[7].isoformat()),
        api.membership("unmuted", member, community, at=at[3]),
        api.membership("banned", member, community, at=at[4]),
        api.membership("reinstated", member, community, at=at[5]),
        api.membership("expired", member, community, at=at[6]),
    ]


async def _rows(api: Any, keys: list[tuple[str, str]]) -> dict[Any, Any]:
    async with read_only(api.app.state.sessions) as session:
        return await AudienceRepository(session).memberships(keys)


async def test_a_shuffled_poll_ends_where_the_history_in_order_ends(api: Any) -> None:
    events = [
        event for n in range(6) for event in _history(api, f"m-{n}", "c-1" if n % 2 else "c-2")
    ]
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    # consecutive events of one type, so the batched handler gets runs longer than one
    shuffled.sort(key=lambda event: event.type == "quanzi.onboarding.membership.expired.v1")
    await api.deliver_batch(*shuffled)

    keys = sorted({(e.tenant_id, str(e.data["membership_id"])) for e in events})
    expected: dict[Any, Any] = {}
    for event in events:  # in time order, one at a time
        key = (event.tenant_id, str(event.data["membership_id"]))
        expected[key] = fold(expected.get(key), MEMBERSHIP_FACTS[event.type](event.data))
    found = await _rows(api, keys)
    assert found == expected
    assert {state.status.value for state in found.values()} == {"expired"}
    assert {state.tier for state in found.values()} == {"core"}

    await api.deliver_batch(*events)  # the same poll again (the inbox would skip it)
    assert await _rows(api, keys) == expected
