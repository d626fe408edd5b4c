"""Newcomer and reactivation sequences on SQLite and PostgreSQL: onboarding's and
insights' events through the ``content.sequences`` handler table, steps fired by the
timer runner on a moved clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from content import app as content_app
from content.sequences.service import STEP_TIMER, fire_step
from servicekit.consumer import apply_run
from servicekit.contracts import Registry
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.tables import timers
from servicekit.timers import Timer, TimerRunner
from servicekit.types import utcnow

CT = "/v1/content"
TENANT = "t-acme"
DELIVERED = "quanzi.content.sequence.step_delivered.v1"


def welcomed(member_id: str, at: datetime, community_id: str = "c-1", tier: str = "core") -> Event:
    return Event(
        type="quanzi.onboarding.member.welcomed.v1",
        source="/onboarding",
        tenant_id=TENANT,
        topic="onboarding.memberships",
        key=member_id,
        data={
            "tenant_id": TENANT,
            "membership_id": f"ms-{member_id}-{community_id}",
            "member_id": member_id,
            "display_name": None,
            "community_id": community_id,
            "community_name": "读书会",
            "group_id": None,
            "group_name": None,
            "mentor_id": None,
            "mentor_name": None,
            "tier": tier,
            "text": "欢迎",
            "source": {"kind": "open", "code": None, "channel": None, "inviter_id": None},
            "welcomed_at": at.isoformat(),
        },
    )


async def feed(api: Any, *events: Event) -> None:
    """Each event in its own transaction through the sequences consumer's handlers."""
    for event in events:
        async with transaction(api.app.state.sessions) as session:
            await apply_run(content_app.SEQUENCES.handlers[event.type], session, [event])


async def fire(api: Any, now: datetime) -> int:
    runner = TimerRunner(api.app.state.sessions, {STEP_TIMER: fire_step})
    fired = 0
    while n := await runner.fire_due(now):
        fired += n
    return fired


STEPS = [
    {"delay_s": 0, "kind": "message", "body": "欢迎！先读群规"},
    {"delay_s": 86400, "kind": "post", "title": "第二天", "body": "今天开始打卡"},
    {
        "delay_s": 86400,
        "kind": "message",
        "body": "核心成员专属",
        "condition": {"tiers": ["core"], "min_level": 2},
    },
]


async def _sequence(api: Any, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "新人三天SOP")
    body.setdefault("trigger", "welcomed")
    body.setdefault("steps", STEPS)
    answer = await api.client.post(f"{CT}/sequences", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _detail(api: Any, sequence_id: str) -> dict[str, Any]:
    answer = await api.client.get(f"{CT}/sequences/{sequence_id}", headers=api.operator())
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


async def test_a_newcomer_receives_each_step_once_and_operators_see_reach(api: Any) -> None:
    sequence = await _sequence(api, community_id="c-1")
    start = utcnow()
    await api.seat("m-1", at=start)
    await api.seat("m-2", at=start)
    await api.deliver(api.level("m-1", 3))
    # a redelivered welcome starts nothing new; another community's newcomer is not in it
    await feed(api, welcomed("m-1", start), welcomed("m-1", start), welcomed("m-2", start))
    await feed(api, welcomed("m-3", start, community_id="c-2"))
    assert await fire(api, start) == 2  # step 0 of m-1 and m-2, due at once
    first = await api.published(DELIVERED)
    assert sorted(e.data["member_id"] for e in first) == ["m-1", "m-2"]
    assert {e.key for e in first} == {"m-1", "m-2"} and {e.data["step"] for e in first} == {0}
    assert await fire(api, start + timedelta(hours=23)) == 0  # the next is not due yet
    await fire(api, start + timedelta(days=2, minutes=1))
    events = await api.published(DELIVERED)
    steps = sorted((e.data["member_id"], e.data["step"]) for e in events)
    # m-2 is level 1: the third step's condition does not hold for them
    assert steps == [("m-1", 0), ("m-1", 1), ("m-1", 2), ("m-2", 0), ("m-2", 1)]
    assert await fire(api, start + timedelta(days=30)) == 0  # nothing more, nothing twice
    detail = await _detail(api, sequence["id"])
    assert detail["runs"] == {"running": 0, "done": 2, "stopped": 0}
    assert detail["reach"] == [
        {"delivered": 2, "skipped": 0},
        {"delivered": 2, "skipped": 0},
        {"delivered": 1, "skipped": 1},
    ]


async def test_leaving_stops_the_run(api: Any) -> None:
    sequence = await _sequence(api, trigger="activated")
    start = utcnow()
    await api.seat("m-1", at=start)
    await feed(api, api.membership("activated", "m-1", at=start))
    await fire(api, start)
    await feed(api, api.membership("left", "m-1", at=start + timedelta(hours=1)))
    await fire(api, start + timedelta(days=10))
    assert [e.data["step"] for e in await api.published(DELIVERED)] == [0]
    detail = await _detail(api, sequence["id"])
    assert detail["runs"]["stopped"] == 1
    assert [r["delivered"] for r in detail["reach"]] == [1, 0, 0]


async def test_a_retried_step_is_not_delivered_twice(api: Any) -> None:
    """A timer that fires again (a crash after the handler, a second replica's claim)
    finds the step reached and changes nothing."""
    await _sequence(api)
    start = utcnow()
    await api.seat("m-1", at=start)
    await feed(api, welcomed("m-1", start))
    async with api.app.state.runtime.engine.connect() as connection:
        row = (await connection.execute(timers.select())).mappings().one()
    timer = Timer(**{k: row[k] for k in Timer.__dataclass_fields__})
    for _ in range(3):
        async with transaction(api.app.state.sessions) as session:
            await fire_step(session, timer)
    assert len(await api.published(DELIVERED)) == 1


async def test_a_paused_sequence_starts_nothing_and_stops_its_runs(api: Any) -> None:
    sequence = await _sequence(api)
    start = utcnow()
    await api.seat("m-1", at=start)
    await feed(api, welcomed("m-1", start))
    await fire(api, start)
    paused = await api.client.patch(
        f"{CT}/sequences/{sequence['id']}", json={"active": False}, headers=api.operator()
    )
    assert paused.status_code == 200 and paused.json()["active"] is False
    await api.seat("m-2", at=start)
    await feed(api, welcomed("m-2", start))
    await fire(api, start + timedelta(days=5))
    assert [e.data["member_id"] for e in await api.published(DELIVERED)] == ["m-1"]
    assert (await _detail(api, sequence["id"]))["runs"] == {"running": 0, "done": 0, "stopped": 1}


async def test_bad_sequences_are_problems_and_members_may_not_define_them(api: Any) -> None:
    for steps, code in (
        ([], 422),
        ([{"delay_s": -1, "kind": "message", "body": "x"}], 422),
        ([{"delay_s": 0, "kind": "letter", "body": "x"}], 422),
        ([{"delay_s": 0, "kind": "message", "body": "   "}], 422),
    ):
        answer = await api.client.post(
            f"{CT}/sequences",
            json={"name": "x", "trigger": "welcomed", "steps": steps},
            headers=api.operator(),
        )
        assert answer.status_code == code, steps
        assert answer.headers["content-type"] == "application/problem+json"
    unknown = await api.client.post(
        f"{CT}/sequences",
        json={"name": "x", "trigger": "welcomed", "steps": STEPS, "community_id": "c-9"},
        headers=api.operator(),
    )
    assert unknown.status_code == 404
    member = await api.client.post(
        f"{CT}/sequences",
        json={"name": "x", "trigger": "welcomed", "steps": STEPS},
        headers=api.member("m-1"),
    )
    assert member.status_code == 403
    listed = await api.client.get(f"{CT}/sequences", headers=api.operator())
    assert listed.json() == []


async def test_two_replicas_firing_at_once_deliver_each_step_once(api: Any) -> None:
    await _sequence(api, steps=STEPS[:2])
    start = utcnow()
    members = [f"m-{n}" for n in range(12)]
    for member in members:
        await api.seat(member, at=start)
        await feed(api, welcomed(member, start))
    replicas = [TimerRunner(api.app.state.sessions, {STEP_TIMER: fire_step}) for _ in range(2)]
    for when in (start, start + timedelta(days=1, minutes=1)):
        for _ in range(3):  # each round: both replicas claim at the same moment
            await asyncio.gather(*(replica.fire_due(when) for replica in replicas))
    delivered = [(e.data["member_id"], e.data["step"]) for e in await api.published(DELIVERED)]
    assert sorted(delivered) == sorted((m, s) for m in members for s in (0, 1))


# --- reactivation sequences: insights' silences and returns --------------------------------

REACTIVATION = [
    {"delay_s": 0, "kind": "message", "body": "好久不见，本周话题等你来聊"},
    {"delay_s": 3 * 86400, "kind": "post", "title": "错过的精华", "body": "这周的三篇精华"},
]


def silence(member_id: str, since: datetime, *, held_out: bool = False, **data: Any) -> Event:
    return _insights(
        "went_silent",
        member_id,
        {
            "last_engaged_at": (since - timedelta(days=14)).isoformat(),
            "silent_since": since.isoformat(),
            "silent_after_days": 14,
            "held_out": held_out,
            **data,
        },
    )


def reactivated(member_id: str, since: datetime, at: datetime) -> Event:
    data = {"silent_since": since.isoformat(), "reactivated_at": at.isoformat()}
    return _insights("reactivated", member_id, {**data, "held_out": False})


def _insights(kind: str, member_id: str, data: dict[str, Any]) -> Event:
    data = {"tenant_id": TENANT, "community_id": "c-1", "member_id": member_id, **data}
    event = Event(
        type=f"quanzi.insights.member.{kind}.v1",
        source="/insights",
        tenant_id=TENANT,
        topic="insights.members",
        key=member_id,
        data=data,
    )
    Registry.load().validate(event)  # what we feed in is what insights may send
    return event


async def feed_batch(api: Any, *events: Event) -> None:
    """One poll's run of one type, in one transaction, as the consumer applies it."""
    async with transaction(api.app.state.sessions) as session:
        await apply_run(content_app.SEQUENCES.handlers[events[0].type], session, list(events))


async def test_a_silence_nudges_contacted_members_and_never_held_out_ones(api: Any) -> None:
    sequence = await _sequence(api, name="唤醒", trigger="silent", steps=REACTIVATION)
    newcomer = await _sequence(api, steps=STEPS[:1])  # a welcome is no silence
    start = utcnow()
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member, at=start - timedelta(days=30))
    await api.seat("m-4", at=start - timedelta(days=30))
    await api.deliver(api.membership("left", "m-4", at=start - timedelta(days=1)))
    since = start - timedelta(hours=1)
    await feed_batch(
        api,
        silence("m-1", since),
        silence("m-2", since, held_out=True),  # the control arm: nothing, ever
        silence("m-3", since, community_id="c-2"),  # no seat there: no outreach
        silence("m-4", since),  # left: no outreach to a former member
        silence("m-5", since),  # never seated here
    )
    await feed_batch(api, silence("m-1", since))  # redelivered: no second run
    assert await fire(api, utcnow()) == 1
    await fire(api, utcnow() + timedelta(days=3, minutes=1))
    delivered = await api.published(DELIVERED)
    assert [(e.data["member_id"], e.data["step"]) for e in delivered] == [("m-1", 0), ("m-1", 1)]
    assert {e.data["membership_id"] for e in delivered} == {"ms-m-1-c-1"}
    assert {e.data["sequence_id"] for e in delivered} == {sequence["id"]}
    detail = await _detail(api, sequence["id"])
    assert detail["trigger"] == "silent"
    assert detail["runs"] == {"running": 0, "done": 1, "stopped": 0}
    assert (await _detail(api, newcomer["id"]))["runs"] == {"running": 0, "done": 0, "stopped": 0}


async def test_a_return_stops_the_nudges_and_a_new_silence_starts_them_again(api: Any) -> None:
    sequence = await _sequence(api, name="唤醒", trigger="silent", steps=REACTIVATION)
    newcomer = await _sequence(api, trigger="activated", steps=STEPS[1:2])
    start = utcnow()
    await api.seat("m-1", at=start)
    await feed(api, api.membership("activated", "m-1", at=start))  # a newcomer run
    await feed_batch(api, silence("m-1", start))
    await fire(api, utcnow())  # the first nudge: counted from when content heard of it
    await feed(api, reactivated("m-1", start, start + timedelta(hours=2)))
    await fire(api, start + timedelta(days=10))
    steps = [(e.data["sequence_id"], e.data["step"]) for e in await api.published(DELIVERED)]
    # the nudge's second step never went; the newcomer sequence went on
    assert steps == [(sequence["id"], 0), (newcomer["id"], 0)]
    detail = await _detail(api, sequence["id"])
    assert detail["runs"] == {"running": 0, "done": 0, "stopped": 1}
    assert [r["delivered"] for r in detail["reach"]] == [1, 0]
    assert (await _detail(api, newcomer["id"]))["runs"]["done"] == 1
    # silent again later: a new silence, a new run (the first is not in its way)
    again = start + timedelta(days=20)
    await feed_batch(api, silence("m-1", again))
    await fire(api, utcnow())
    assert (await _detail(api, sequence["id"]))["runs"] == {"running": 1, "done": 0, "stopped": 1}
    assert [e.data["step"] for e in await api.published(DELIVERED)][-1] == 0


async def test_a_refund_stops_a_reactivation_run_and_conditions_still_apply(api: Any) -> None:
    steps = [
        {**REACTIVATION[0], "condition": {"tiers": ["core"]}},
        REACTIVATION[1],
    ]
    sequence = await _sequence(api, name="唤醒", trigger="silent", steps=steps)
    start = utcnow()
    await api.seat("m-1", at=start - timedelta(days=30), tier="trial")
    await feed_batch(api, silence("m-1", start))
    await fire(api, utcnow())
    await feed(api, api.membership("refunded", "m-1", at=utcnow()))
    await fire(api, utcnow() + timedelta(days=10))
    assert await api.published(DELIVERED) == []  # a trial seat: skipped; then refunded
    detail = await _detail(api, sequence["id"])
    assert detail["runs"] == {"running": 0, "done": 0, "stopped": 1}
    assert detail["reach"] == [{"delivered": 0, "skipped": 1}, {"delivered": 0, "skipped": 0}]
