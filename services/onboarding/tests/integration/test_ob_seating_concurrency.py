"""One routing code under a mixed burst: joins, refunds and leaves at once, overflow groups
opening meanwhile. No 5xx, no deadlock (PostgreSQL's own count), capacities exact: every
group's count is the number of memberships seated in it."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import func, select, text

from onboarding.joins.seating import SEAT_TIMER, retry_seat
from onboarding.membership.states import SEATED
from onboarding.orm import Group, Membership
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
JOINERS, REFUNDS, LEAVES, CAPACITY = 200, 20, 20, 30


async def test_joins_refunds_leaves_and_overflow_at_once(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(trial_days=7, term_days=30)
    groups = []
    for n in (1, 2, 3):
        made = await onboarding.client.post(
            f"{BASE}/communities/{community['id']}/groups",
            json={"name": f"{n}群", "capacity": CAPACITY},
            headers=onboarding.operator(),
        )
        assert made.status_code == 201, made.text
        groups.append(made.json()["id"])
    code = await onboarding.client.post(
        f"{BASE}/routing-codes",
        headers=onboarding.operator(),
        json={
            "community_id": community["id"],
            "code": "live",
            "group_ids": groups,
            "overflow_prefix": "直播 ",
            "overflow_capacity": CAPACITY,
        },
    )
    assert code.status_code == 201, code.text

    # Members already in, paid, inside their refund window: half will be refunded, half leave.
    paid: dict[str, str] = {}
    for i in range(REFUNDS + LEAVES):
        member = f"early-{i}"
        joined = await join(onboarding, member)
        assert joined.status_code == 201, joined.text
        payment = await onboarding.pay(community["id"], member, f"pay-{i}")
        assert payment.status_code == 201, payment.text
        paid[member] = joined.json()["id"]
    deadlocks_before = await deadlocks(onboarding)

    async def refund(member: str) -> httpx.Response:
        return await onboarding.client.post(
            f"{BASE}/memberships/{paid[member]}/refund",
            json={"reason": "changed my mind"},
            headers={**onboarding.payments(), "Idempotency-Key": f"refund-{member}"},
        )

    async def leave(member: str) -> httpx.Response:
        return await onboarding.client.post(
            f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member(member)
        )

    early = list(paid)
    burst = [join(onboarding, f"live-{i}") for i in range(JOINERS)]
    burst += [refund(member) for member in early[:REFUNDS]]
    burst += [leave(member) for member in early[REFUNDS:]]
    answers = await asyncio.gather(*burst)

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: JOINERS, 200: REFUNDS + LEAVES}, [
        a.text for a in answers if a.status_code >= 300
    ]
    assert all(a.json()["status"] == "trial" and a.json()["group_id"] for a in answers[:JOINERS])
    assert {a.json()["status"] for a in answers[JOINERS : JOINERS + REFUNDS]} == {"refunded"}
    assert {a.json()["status"] for a in answers[JOINERS + REFUNDS :]} == {"left"}

    async with onboarding.sessions() as session:
        counts = dict((await session.execute(select(Group.id, Group.member_count))).all())
        capacity = dict((await session.execute(select(Group.id, Group.capacity))).all())
        seated = dict(
            (
                await session.execute(
                    select(Membership.group_id, func.count())
                    .where(Membership.status.in_(SEATED))
                    .group_by(Membership.group_id)
                )
            ).all()
        )
    assert seated.get(None) is None  # every seated member sits in a group
    assert {g: n for g, n in counts.items() if n} == seated
    assert all(counts[g] <= capacity[g] for g in counts)
    assert sum(counts.values()) == JOINERS  # the early members all left or were refunded
    assert len(counts) >= -(-JOINERS // CAPACITY)  # overflow groups were opened
    # PostgreSQL's own count for this test's database: no transaction met a deadlock. (The
    # retry counter is process-wide: runners left by other files of this worker share it.)
    assert await deadlocks(onboarding) == deadlocks_before


async def join(onboarding: Onboarding, member: str) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/routing-codes/live/join", headers=onboarding.member(member)
    )


async def deadlocks(onboarding: Onboarding) -> int:
    """PostgreSQL's count of deadlocks in this database (0 on SQLite, which has none).

    A backend reports its statistics when it ends: the app's connections are closed and
    their backends awaited first.
    """
    if onboarding.engine.dialect.name != "postgresql":
        return 0
    await onboarding.app.state.runtime.engine.dispose()
    async with onboarding.engine.connect() as connection:
        others = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for _ in range(500):
            if await connection.scalar(others) == 0:
                break
            await asyncio.sleep(0.01)  # the backends are exiting; no clock involved
        await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = await connection.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
    return int(found or 0)


async def test_waiting_members_moves_switches_and_leaves_at_once(onboarding: Onboarding) -> None:
    """Seats by hand under a burst: members leave and switch out of a full group that others
    wait for, invitees keep arriving, operators move members across groups both ways. No 5xx,
    no deadlock, counts exact; every seated member sits in a group or is marked waiting, and
    once the post-commit retries ran nobody waits while their group has room."""
    groups = [
        {"name": "VIP", "capacity": 10},
        {"name": "A", "capacity": 20},
        {"name": "B", "capacity": 20},
        {"name": "兴趣1", "kind": "interest", "capacity": 10},
    ]
    community = await onboarding.community(groups=groups)
    cid = community["id"]
    listed = await onboarding.client.get(
        f"{BASE}/communities/{cid}/groups", headers=onboarding.operator()
    )
    named = {g["name"]: g["id"] for g in listed.json()["items"]}
    for name in ("VIP", "A"):
        made = await onboarding.client.post(
            f"{BASE}/invites",
            json={
                "community_id": cid,
                "code": f"to-{name}",
                "target_group_id": named[name],
                "max_uses": None,
            },
            headers=onboarding.operator(),
        )
        assert made.status_code == 201, made.text

    async def redeem(code: str, member: str) -> httpx.Response:
        return await onboarding.client.post(
            f"{BASE}/invites/{code}/redeem", headers=onboarding.member(member)
        )

    ids: dict[str, str] = {}
    for member, code in [(f"vip-{i}", "to-VIP") for i in range(20)] + [
        (f"a-{i}", "to-A") for i in range(10)
    ]:
        answer = await redeem(code, member)
        assert answer.status_code == 201, answer.text
        ids[member] = answer.json()["id"]
    deadlocks_before = await deadlocks(onboarding)

    def move(member: str, group: str) -> Any:
        return onboarding.client.post(
            f"{BASE}/memberships/{ids[member]}/move",
            json={"group_id": named[group]},
            headers=onboarding.operator(),
        )

    def leave(member: str) -> Any:
        return onboarding.client.post(
            f"{BASE}/communities/{cid}/leave", headers=onboarding.member(member)
        )

    def switch(member: str) -> Any:
        return onboarding.client.post(
            f"{BASE}/me/communities/{cid}/group",
            json={"group_id": named["兴趣1"]},
            headers=onboarding.member(member),
        )

    burst = [leave(f"vip-{i}") for i in range(5)]
    burst += [switch(f"vip-{i}") for i in range(5, 10)]
    burst += [redeem("to-VIP", f"new-{i}") for i in range(10)]
    burst += [move(f"vip-{i}", "B") for i in range(15, 20)]  # waiting ones, maybe seated now
    burst += [move(f"a-{i}", "B") for i in range(5)]
    burst += [move(f"a-{i}", "VIP") for i in range(5, 10)]  # full, or freed meanwhile: 409 or 200
    answers = await asyncio.gather(*burst)
    codes = Counter(a.status_code for a in answers)
    assert set(codes) <= {200, 201, 409}, [a.text for a in answers if a.status_code >= 500]
    conflicts = [a.json()["type"] for a in answers if a.status_code == 409]
    assert all(t.endswith("/group-full") for t in conflicts)

    runner = TimerRunner(onboarding.sessions, {SEAT_TIMER: retry_seat})
    await runner.fire_due(utcnow())
    async with onboarding.sessions() as session:
        counts = dict((await session.execute(select(Group.id, Group.member_count))).all())
        capacity = dict((await session.execute(select(Group.id, Group.capacity))).all())
        rows = (
            await session.execute(
                select(Membership.group_id, Membership.seat_waiting_since).where(
                    Membership.status.in_(SEATED)
                )
            )
        ).all()
    seated = Counter(group for group, _ in rows if group is not None)
    assert {g: n for g, n in counts.items() if n} == dict(seated)
    assert all(counts[g] <= capacity[g] for g in counts)
    assert all((group is None) == (since is not None) for group, since in rows)
    waiting = sum(1 for group, _ in rows if group is None)
    assert waiting == 0 or counts[named["VIP"]] == capacity[named["VIP"]]
    assert counts[named["兴趣1"]] == 5
    assert await deadlocks(onboarding) == deadlocks_before  # this database's own count
