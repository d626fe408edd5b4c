"""The membership projection on both backends: batched runs, any order, community zones."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from activities.members.repository import MembersRepository
from servicekit.db import read_only

from .conftest import T0


async def states(api: Any, member_id: str, community_id: str = "c-1") -> list[Any]:
    async with read_only(api.app.state.sessions) as session:
        return await MembersRepository(session).of_member("t-acme", member_id, community_id)


async def test_a_shuffled_poll_ends_where_the_history_in_order_ends(api: Any) -> None:
    history = []
    for n in range(20):
        member = f"m-{n}"
        at = T0 + timedelta(minutes=n)
        history.append(api.membership("activated", member, at=at, group_id="g-1"))
        history.append(api.membership("group_changed", member, at=at + timedelta(hours=1)))
        if n % 3 == 0:
            history.append(api.membership("left", member, at=at + timedelta(hours=2)))
        if n % 6 == 0:
            history.append(api.membership("reinstated", member, at=at + timedelta(hours=3)))
    shuffled = history[:]
    random.Random(12).shuffle(shuffled)
    await api.deliver_batch(*shuffled)
    await api.deliver_batch(*shuffled[:7])  # redelivered: the inbox would skip; fold agrees
    for n in range(20):
        [state] = await states(api, f"m-{n}")
        assert state.active is (n % 3 != 0 or n % 6 == 0), n
        # reinstated names its group; otherwise the group change (later than activation) holds
        assert state.group_id == ("g-1" if n % 6 == 0 else "g-2"), n


async def test_a_communitys_zone_follows_its_latest_update(api: Any) -> None:
    async with read_only(api.app.state.sessions) as session:
        assert (await MembersRepository(session).community("t-acme", "c-1"))[0] == "Asia/Shanghai"
    later, earlier = T0 + timedelta(days=2), T0 + timedelta(days=1)
    await api.deliver(api.community("c-1", "Europe/Paris", updated_at=later))
    await api.deliver(api.community("c-1", "America/New_York", updated_at=earlier))
    await api.deliver(api.community("c-1", None, updated_at=later + timedelta(hours=1)))
    async with read_only(api.app.state.sessions) as session:
        zone, _ = await MembersRepository(session).community("t-acme", "c-1")
        other = await MembersRepository(session).community("t-other", "c-1")
    assert zone == "Europe/Paris" and other is None
