"""Talks through the API on both backends: the question queue under concurrent votes,
one upvote per member, the host's marks, hidden questions kept from members."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from activities import app as activities_app
from servicekit.timers import TimerRunner

from .conftest import AC, T0


async def new_talk(api: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "嘉宾分享: 社群从 0 到 1",
        "guests": ["guest-1"],
        "starts_at": (T0 + timedelta(hours=2)).isoformat(),
        "ends_at": (T0 + timedelta(hours=3)).isoformat(),
    }
    answer = await api.client.post(f"{AC}/talks", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def ask(api: Any, talk: dict[str, Any], member: str, text: str) -> dict[str, Any]:
    answer = await api.client.post(
        f"{AC}/talks/{talk['id']}/questions", json={"text": text}, headers=api.member(member)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def upvote(api: Any, talk: dict[str, Any], question: dict[str, Any], member: str) -> Any:
    return await api.client.put(
        f"{AC}/talks/{talk['id']}/questions/{question['id']}/vote", headers=api.member(member)
    )


async def queue(api: Any, talk: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await api.client.get(f"{AC}/talks/{talk['id']}/questions", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_the_queue_orders_by_votes_then_time_under_concurrent_votes(api: Any) -> None:
    members = [f"m-{i}" for i in range(12)]
    await api.deliver_batch(*(api.membership("activated", m) for m in members))
    talk = await new_talk(api)
    first = await ask(api, talk, "m-0", "社群冷启动怎么做?")
    api.at(T0 + timedelta(minutes=1))
    second = await ask(api, talk, "m-1", "付费社群怎么定价?")
    api.at(T0 + timedelta(minutes=2))
    third = await ask(api, talk, "m-2", "如何避免群变成广告群?")
    # Ten members upvote the second at once, one of them twenty times: ten votes land.
    answers = await asyncio.gather(
        *(upvote(api, talk, second, m) for m in members[2:12]),
        *(upvote(api, talk, second, "m-2") for _ in range(19)),
    )
    assert sorted(a.status_code for a in answers) == [204] * 10 + [409] * 19
    assert (await upvote(api, talk, third, "m-0")).status_code == 204
    assert (await upvote(api, talk, first, "m-1")).status_code == 204
    # first and third tie at one vote: the earlier asked comes first.
    view = await queue(api, talk, api.member("m-2"))
    assert [(q["id"], q["votes"]) for q in view] == [
        (second["id"], 10),
        (first["id"], 1),
        (third["id"], 1),
    ]
    assert [q["upvoted"] for q in view] == [True, False, False]

    async def mark(question: dict[str, Any], status: str) -> Any:
        return await api.client.post(
            f"{AC}/talks/{talk['id']}/questions/{question['id']}/status",
            json={"status": status},
            headers=api.operator(),
        )

    assert (await mark(second, "answered")).json()["status"] == "answered"
    assert (await mark(third, "hidden")).status_code == 200
    assert [q["id"] for q in await queue(api, talk, api.member("m-0"))] == [
        first["id"],
        second["id"],
    ]
    assert len(await queue(api, talk, api.operator())) == 3  # operators see hidden ones
    closed = await upvote(api, talk, second, "m-0")
    assert closed.status_code == 409 and closed.json()["type"].endswith("question-not-open")
    assert (await mark(second, "hidden")).status_code == 200
    by_member = await api.client.post(
        f"{AC}/talks/{talk['id']}/questions/{first['id']}/status",
        json={"status": "hidden"},
        headers=api.member("m-0"),
    )
    assert by_member.status_code == 403


async def test_after_the_talk_no_more_questions_or_votes(api: Any) -> None:
    await api.seat("m-1")
    talk = await new_talk(api)
    question = await ask(api, talk, "m-1", "?")
    api.at(T0 + timedelta(hours=3))
    late = await api.client.post(
        f"{AC}/talks/{talk['id']}/questions", json={"text": "x"}, headers=api.member("m-1")
    )
    assert late.status_code == 409 and late.json()["type"].endswith("talk-ended")
    assert (await upvote(api, talk, question, "m-1")).status_code == 409
    stranger = await api.client.get(f"{AC}/talks/{talk['id']}", headers=api.member("x"))
    assert stranger.status_code == 404
    bad = await api.client.post(
        f"{AC}/talks",
        json={
            "community_id": "c-1",
            "title": "x",
            "starts_at": (T0 + timedelta(hours=5)).isoformat(),
            "ends_at": (T0 + timedelta(hours=4)).isoformat(),
        },
        headers=api.operator(),
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-talk")


SCHEDULED = "quanzi.activities.talk.scheduled.v1"
REMINDER = "quanzi.activities.talk.reminder_due.v1"
ATTENDED = "quanzi.activities.talk.attended.v1"


async def a_talk(api: Any, starts_in: timedelta, length: timedelta) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "AMA",
        "starts_at": (T0 + starts_in).isoformat(),
        "ends_at": (T0 + starts_in + length).isoformat(),
    }
    answer = await api.client.post(f"{AC}/talks", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_reminders_fire_once_each_and_follow_a_moved_talk(api: Any) -> None:
    talk = await a_talk(api, timedelta(days=2), timedelta(hours=1))
    [scheduled] = await api.published(SCHEDULED)
    assert scheduled.data["previous_starts_at"] is None and scheduled.key == "c-1"
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=T0 + timedelta(days=1) - timedelta(seconds=1)) == 0
    assert await runner.fire_due(now=T0 + timedelta(days=1)) == 1  # 24 h before
    assert await runner.fire_due(now=T0 + timedelta(days=1, hours=1)) == 0  # once
    # Moved a day later: the 24 h reminder is re-armed for the new start, the 15 min one
    # moves; nothing fires for the old start.
    api.at(T0 + timedelta(days=1, hours=2))
    new_start = T0 + timedelta(days=3)
    moved = await api.client.post(
        f"{AC}/talks/{talk['id']}/schedule",
        json={
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(hours=1)).isoformat(),
        },
        headers=api.operator(),
    )
    assert moved.status_code == 200, moved.text
    old_quarter = T0 + timedelta(days=2) - timedelta(minutes=1)
    assert await runner.fire_due(now=old_quarter) == 0  # the old start's 15 min: moved
    assert await runner.fire_due(now=new_start - timedelta(days=1)) == 1
    assert await runner.fire_due(now=new_start - timedelta(minutes=15)) == 1
    assert await runner.fire_due(now=new_start + timedelta(days=1)) == 0
    reminders = await api.published(REMINDER)
    assert [(e.data["lead"], e.data["starts_at"]) for e in reminders] == [
        ("24h", talk["starts_at"].replace("Z", "+00:00")),
        ("24h", new_start.isoformat()),
        ("15m", new_start.isoformat()),
    ]
    rescheduled = (await api.published(SCHEDULED))[-1]
    assert rescheduled.data["previous_starts_at"] == (T0 + timedelta(days=2)).isoformat()


async def test_a_talk_set_up_late_sends_no_late_reminder(api: Any) -> None:
    await a_talk(api, timedelta(hours=2), timedelta(hours=1))  # within 24 h already
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=T0 + timedelta(hours=3)) == 1  # the 15 min one only
    assert [e.data["lead"] for e in await api.published(REMINDER)] == ["15m"]


async def test_an_ended_talk_cannot_be_moved(api: Any) -> None:
    talk = await a_talk(api, timedelta(hours=1), timedelta(hours=1))
    api.at(T0 + timedelta(hours=2))
    body = {
        "starts_at": (T0 + timedelta(days=1)).isoformat(),
        "ends_at": (T0 + timedelta(days=1, hours=1)).isoformat(),
    }
    late = await api.client.post(
        f"{AC}/talks/{talk['id']}/schedule", json=body, headers=api.operator()
    )
    assert late.status_code == 409 and late.json()["type"].endswith("talk-ended")


async def test_attendance_once_per_member_minutes_max_merged(api: Any) -> None:
    for member in ("m-1", "m-2"):
        await api.seat(member)
    talk = await a_talk(api, timedelta(hours=1), timedelta(hours=1))
    url = f"{AC}/talks/{talk['id']}/attendance"

    async def report(member: str, minutes: int) -> Any:
        return await api.client.put(url, json={"minutes": minutes}, headers=api.member(member))

    early = await report("m-1", 0)
    assert early.status_code == 409 and early.json()["type"].endswith("talk-not-started")
    api.at(T0 + timedelta(minutes=50))  # joining 10 minutes early is fine
    answers = await asyncio.gather(*(report("m-1", m) for m in (5, 30, 12, 30, 1)))
    assert {a.status_code for a in answers} == {200}
    assert (await report("m-1", 20)).json()["minutes"] == 30  # never lowered
    assert (await report("m-1", 76)).status_code == 422  # longer than the talk allows
    assert (await report("m-2", 40)).status_code == 200
    assert (await report("stranger", 5)).status_code == 404
    [first, second] = await api.published(ATTENDED)
    assert (first.data["member_id"], first.key) == ("m-1", "m-1")
    assert second.data["member_id"] == "m-2" and second.data["minutes"] == 40
    everyone = await api.client.get(url, headers=api.operator())
    assert [(r["member_id"], r["minutes"]) for r in everyone.json()] == [("m-1", 30), ("m-2", 40)]
    mine = await api.client.get(url, headers=api.member("m-2"))
    assert [r["member_id"] for r in mine.json()] == ["m-2"]
    api.at(T0 + timedelta(days=1, hours=2, minutes=1))
    closed = await report("m-2", 50)
    assert closed.status_code == 409 and closed.json()["type"].endswith("attendance-closed")
