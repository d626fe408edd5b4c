"""Polls through the API on both backends: one vote per member under concurrency,
changeable votes, results per the setting, and the close (its timer, or an operator)
publishing poll.closed once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from activities import app as activities_app
from servicekit.timers import TimerRunner

from .conftest import AC, T0

CLOSED = "quanzi.activities.poll.closed.v1"


async def new_poll(api: Any, **body: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "question": "下期读哪本书?",
        "options": ["乌合之众", "影响力", "社群运营"],
        "closes_at": (T0 + timedelta(days=1)).isoformat(),
        **body,
    }
    answer = await api.client.post(f"{AC}/polls", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def vote(api: Any, poll_id: str, member: str, *choices: int) -> Any:
    return await api.client.put(
        f"{AC}/polls/{poll_id}/vote", json={"choices": list(choices)}, headers=api.member(member)
    )


async def results(api: Any, poll_id: str, headers: dict[str, str]) -> Any:
    return await api.client.get(f"{AC}/polls/{poll_id}/results", headers=headers)


async def test_one_vote_per_member_even_at_once_and_named_results(api: Any) -> None:
    for member in ("m-1", "m-2"):
        await api.seat(member)
    poll = await new_poll(api)
    answers = await asyncio.gather(*(vote(api, poll["id"], "m-1", i % 3) for i in range(20)))
    assert sorted(a.status_code for a in answers) == [204] + [409] * 19
    assert (await vote(api, poll["id"], "m-2", 1)).status_code == 204
    assert (await vote(api, poll["id"], "m-2", 0, 1)).status_code == 409  # already voted
    assert (await vote(api, poll["id"], "stranger", 1)).status_code == 404
    body = (await results(api, poll["id"], api.member("m-2"))).json()
    assert body["voters"] == 2 and sum(o["votes"] for o in body["options"]) == 2
    assert "m-2" in body["options"][1]["voters"]


async def test_a_changeable_multiple_choice_vote_replaces_the_last(api: Any) -> None:
    await api.seat("m-1")
    poll = await new_poll(api, max_choices=2, changeable=True, anonymous=True)
    assert (await vote(api, poll["id"], "m-1", 0, 1)).status_code == 204
    assert (await vote(api, poll["id"], "m-1", 2)).status_code == 204
    assert (await vote(api, poll["id"], "m-1", 0, 1, 2)).status_code == 422
    body = (await results(api, poll["id"], api.operator())).json()
    assert [o["votes"] for o in body["options"]] == [0, 0, 1]
    assert all(o["voters"] is None for o in body["options"])  # anonymous


async def test_results_after_close_and_the_timer_closes_once(api: Any) -> None:
    await api.seat("m-1")
    poll = await new_poll(api, results="after_close")
    assert (await vote(api, poll["id"], "m-1", 2)).status_code == 204
    hidden = await results(api, poll["id"], api.member("m-1"))
    assert hidden.status_code == 403 and hidden.json()["type"].endswith("results-hidden")
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=T0 + timedelta(hours=23)) == 0
    assert await runner.fire_due(now=T0 + timedelta(days=1, seconds=1)) == 1
    assert await runner.fire_due(now=T0 + timedelta(days=2)) == 0
    [event] = await api.published(CLOSED)
    assert [o["votes"] for o in event.data["options"]] == [0, 0, 1]
    assert event.data["voters"] == 1 and event.key == "c-1"
    api.at(T0 + timedelta(days=1, seconds=1))
    shown = await results(api, poll["id"], api.member("m-1"))
    assert shown.status_code == 200 and shown.json()["closed"] is True
    assert (await vote(api, poll["id"], "m-1", 0)).status_code == 409


async def test_an_operator_closes_early_once(api: Any) -> None:
    await api.seat("m-1")
    poll = await new_poll(api)
    close = f"{AC}/polls/{poll['id']}/close"
    closed = await api.client.post(close, headers=api.operator())
    assert closed.status_code == 200 and closed.json()["closed_at"] is not None
    assert (await api.client.post(close, headers=api.operator())).status_code == 409
    assert (await vote(api, poll["id"], "m-1", 0)).json()["type"].endswith("poll-closed")
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=T0 + timedelta(days=3)) == 0  # its timer was cancelled
    assert len(await api.published(CLOSED)) == 1
    bad = await api.client.post(
        f"{AC}/polls",
        json={
            "community_id": "c-1",
            "question": "?",
            "options": ["a", "b"],
            "closes_at": (T0 - timedelta(hours=1)).isoformat(),
        },
        headers=api.operator(),
    )
    assert bad.status_code == 422


async def test_a_rating_survey_averages_and_a_free_text_one_lists_answers(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    rating = await new_poll(api, kind="rating", options=[], scale=5, anonymous=True)
    assert rating["options"] == ["1", "2", "3", "4", "5"]
    for member, stars in (("m-1", 5), ("m-2", 4), ("m-3", 4)):
        answer = await api.client.put(
            f"{AC}/polls/{rating['id']}/vote", json={"rating": stars}, headers=api.member(member)
        )
        assert answer.status_code == 204, answer.text
    wrong = await vote(api, rating["id"], "m-1", 0)  # choices on a rating
    assert wrong.status_code in (409, 422)
    body = (await results(api, rating["id"], api.operator())).json()
    assert body["average"] == pytest.approx(13 / 3) and body["answers"] is None

    text = await new_poll(api, kind="text", options=[], changeable=True)
    for member, said in (("m-1", "多办线下活动"), ("m-2", "分享再长一点"), ("m-1", "多办读书会")):
        answer = await api.client.put(
            f"{AC}/polls/{text['id']}/vote", json={"text": said}, headers=api.member(member)
        )
        assert answer.status_code == 204, answer.text
    empty = await api.client.put(
        f"{AC}/polls/{text['id']}/vote", json={"rating": 3}, headers=api.member("m-3")
    )
    assert empty.status_code == 422
    body = (await results(api, text["id"], api.member("m-2"))).json()
    assert sorted((a["member_id"], a["text"]) for a in body["answers"]) == [
        ("m-1", "多办读书会"),
        ("m-2", "分享再长一点"),
    ]
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=T0 + timedelta(days=1)) == 2
    closed = {e.data["kind"]: e.data for e in await api.published(CLOSED)}
    assert closed["rating"]["average"] == pytest.approx(13 / 3)
    assert closed["text"]["voters"] == 2 and closed["text"]["options"] == []
    assert "多办读书会" not in str(closed["text"])  # answers stay in the service


async def test_survey_settings_are_checked(api: Any) -> None:
    tomorrow = (T0 + timedelta(days=1)).isoformat()
    for body in (
        {"kind": "text", "options": ["a", "b"]},
        {"kind": "choice", "options": ["a", "b"], "scale": 5},
        {"kind": "rating", "options": ["a", "b"]},
        {"kind": "choice", "options": []},
    ):
        answer = await api.client.post(
            f"{AC}/polls",
            json={"community_id": "c-1", "question": "?", "closes_at": tomorrow, **body},
            headers=api.operator(),
        )
        assert answer.status_code == 422, body
        assert answer.json()["type"].endswith("invalid-poll")
