"""Talks through the API on both backends: the question queue under concurrent votes,
one upvote per member, the host's marks, hidden questions kept from members."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

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
