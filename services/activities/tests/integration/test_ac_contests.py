"""Contests through the API on both backends: live standings from check-ins over the
period's local days, ties by who got there first, the top 3 awarded once by the end timer
even when it fires again (re-armed, or two settlements at once) and when an operator
settles it too; cancellation; quiz points tenant-wide; a member's rank; refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from activities import app as activities_app
from activities.contests import service as contests_service
from servicekit import timers
from servicekit.db import transaction
from servicekit.timers import TimerRunner

from .conftest import AC, T0

FINISHED = "quanzi.activities.contest.finished.v1"
AWARDED = "quanzi.activities.contest.awarded.v1"
# The contest runs 1–3 Dec in Shanghai: from 30 Nov 16:00 UTC to 3 Dec 16:00 UTC.
END = datetime(2026, 12, 3, 16, tzinfo=UTC)
DAY = timedelta(days=1)


def zulu(at: datetime) -> str:
    """How the API writes a UTC instant."""
    return at.isoformat().replace("+00:00", "Z")


AWARDS = [
    {"points": 500, "badge": "月度冠军", "title": "打卡之星"},
    {"points": 300},
    {"points": 100},
]


async def new_contest(api: Any, **body: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "十二月打卡之星",
        "metric": "checkins",
        "start_date": "2026-12-01",
        "end_date": "2026-12-03",
        "awards": AWARDS,
        **body,
    }
    answer = await api.client.post(f"{AC}/contests", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def checked(api: Any, challenge_id: str, member: str) -> None:
    answer = await api.check_in(challenge_id, member)
    assert answer.status_code == 201, answer.text


async def activity(api: Any) -> list[str]:
    """a 3 check-ins on day 1; b 3 by day 2; d 2 on day 1; c 2 by day 2; e only in c-2."""
    for member in "abcd":
        await api.seat(member)
    await api.seat("e", "c-2")
    ch = [(await api.challenge(title=f"打卡 {i}"))["id"] for i in range(3)]
    other = (await api.challenge(community_id="c-2"))["id"]
    for challenge_id in ch:
        await checked(api, challenge_id, "a")
    await checked(api, ch[0], "b")
    await checked(api, ch[0], "c")
    for challenge_id in ch[:2]:
        await checked(api, challenge_id, "d")
    api.at(T0 + DAY)
    await checked(api, ch[0], "b")
    await checked(api, ch[1], "b")
    api.at(T0 + DAY + timedelta(minutes=5))
    await checked(api, ch[0], "c")
    for _ in range(2):
        await checked(api, other, "e")
        api.at(api.now[0] + DAY)
    return ch


async def standings(api: Any, contest_id: str) -> dict[str, Any]:
    answer = await api.client.get(
        f"{AC}/contests/{contest_id}/standings", headers=api.operator("content_officer")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_the_top_three_are_awarded_once_even_if_the_timer_fires_twice(api: Any) -> None:
    contest = await new_contest(api)
    assert contest["status"] == "running" and contest["ends_at"] == zulu(END)
    assert contest["timezone"] == "Asia/Shanghai" and contest["scope"] == "community"
    ch = await activity(api)
    api.at(END - timedelta(minutes=1))
    live = await standings(api, contest["id"])
    assert [(s["member_id"], s["score"]) for s in live["standings"]] == [
        ("a", 3),
        ("b", 3),
        ("d", 2),
        ("c", 2),
    ]
    assert live["awarded"] == [] and live["contest"]["status"] == "running"
    mine = await api.client.get(f"{AC}/contests/{contest['id']}/me", headers=api.member("c"))
    assert (mine.json()["place"], mine.json()["score"], mine.json()["ranked"]) == (4, 2, 4)
    # A member of another community does not see it; e's check-ins count nowhere here.
    hidden = await api.client.get(f"{AC}/contests/{contest['id']}/me", headers=api.member("e"))
    assert hidden.status_code == 404

    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=END - timedelta(seconds=1)) == 0
    assert await runner.fire_due(now=END) == 1
    # A check-in after the end (4 Dec) changes nothing.
    api.at(END + timedelta(hours=1))
    await checked(api, ch[2], "c")
    # The timer fires again: re-armed, then twice at once besides.
    payload = {"tenant_id": "t-acme", "contest_id": contest["id"]}
    async with transaction(api.app.state.sessions) as session:
        await timers.schedule(session, contests_service.END_TIMER, contest["id"], END, payload)
    assert await runner.fire_due(now=END + DAY) == 1
    again = timers.Timer(0, contests_service.END_TIMER, contest["id"], END, payload, 0)

    async def fire() -> None:
        async with transaction(api.app.state.sessions) as session:
            await contests_service.end_due(session, again)

    await asyncio.gather(fire(), fire())
    finish = await api.client.post(f"{AC}/contests/{contest['id']}/finish", headers=api.operator())
    assert finish.status_code == 200 and finish.json()["status"] == "finished"

    [finished] = await api.published(FINISHED)
    assert finished.key == "c-1" and finished.data["ranked"] == 4
    assert [(w["place"], w["member_id"], w["points"]) for w in finished.data["winners"]] == [
        (1, "a", 500),
        (2, "b", 300),
        (3, "d", 100),
    ]
    awarded = await api.published(AWARDED)
    assert [(e.key, e.data["place"], e.data["points"]) for e in awarded] == [
        ("a", 1, 500),
        ("b", 2, 300),
        ("d", 3, 100),
    ]
    assert awarded[0].data["badge"] == "月度冠军" and awarded[0].data["title"] == "打卡之星"
    assert all(e.time == END for e in awarded)
    final = await standings(api, contest["id"])
    assert final["contest"]["status"] == "finished" and final["contest"]["ranked"] == 4
    assert [(p["place"], p["member_id"]) for p in final["awarded"]] == [
        (1, "a"),
        (2, "b"),
        (3, "d"),
    ]
    assert final["standings"] == live["standings"]  # frozen at the end
    won = await api.client.get(f"{AC}/contests/{contest['id']}/me", headers=api.member("a"))
    assert won.json()["award"]["points"] == 500 and won.json()["place"] == 1
    cancel = await api.client.post(f"{AC}/contests/{contest['id']}/cancel", headers=api.operator())
    assert cancel.status_code == 409 and cancel.json()["type"].endswith("contest-finished")


async def test_an_operator_settles_an_ended_contest_once_and_not_before_its_end(api: Any) -> None:
    contest = await new_contest(api, awards=[{"title": "冠军"}])
    await activity(api)
    api.at(END - timedelta(seconds=1))
    early = await api.client.post(f"{AC}/contests/{contest['id']}/finish", headers=api.operator())
    assert early.status_code == 409 and early.json()["type"].endswith("contest-running")
    api.at(END + timedelta(hours=2))
    for _ in range(2):
        done = await api.client.post(
            f"{AC}/contests/{contest['id']}/finish", headers=api.operator()
        )
        assert done.status_code == 200 and done.json()["finished_at"] == zulu(END)
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=END + DAY) == 1  # fires, finds it settled
    [finished] = await api.published(FINISHED)
    assert [(w["member_id"], w["title"], w["points"]) for w in finished.data["winners"]] == [
        ("a", "冠军", 0)
    ]
    assert len(await api.published(AWARDED)) == 1


async def test_a_cancelled_contest_awards_nothing(api: Any) -> None:
    contest = await new_contest(api)
    await activity(api)
    cancelled = await api.client.post(
        f"{AC}/contests/{contest['id']}/cancel", headers=api.operator()
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await api.client.post(f"{AC}/contests/{contest['id']}/cancel", headers=api.operator())
    assert again.status_code == 409 and again.json()["type"].endswith("contest-cancelled")
    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=END + DAY) == 0  # its timer went with it
    api.at(END + DAY)
    finish = await api.client.post(f"{AC}/contests/{contest['id']}/finish", headers=api.operator())
    assert finish.status_code == 409
    assert await api.published(FINISHED) == [] and await api.published(AWARDED) == []


async def test_quiz_points_tenant_wide_count_each_quizs_best_attempt(api: Any) -> None:
    contest = await new_contest(
        api, community_id=None, timezone="America/New_York", metric="quiz_points"
    )
    assert contest["scope"] == "tenant" and contest["community_id"] is None
    # 1–3 Dec in New York: until 4 Dec 05:00 UTC.
    assert contest["ends_at"] == zulu(datetime(2026, 12, 4, 5, tzinfo=UTC))
    await api.seat("m-1")
    await api.seat("m-2", "c-2")
    question = await api.client.post(
        f"{AC}/questions",
        json={"kind": "true_false", "prompt": "?", "answer": True},
        headers=api.operator(),
    )
    qid = question.json()["id"]

    async def attempt(community: str, member: str, answer: bool) -> None:
        quiz = await api.client.post(
            f"{AC}/quizzes",
            json={
                "community_id": community,
                "title": "小测",
                "question_ids": [qid],
                "attempts_allowed": 3,
                "opens_at": T0.isoformat(),
                "closes_at": (T0 + DAY).isoformat(),
            },
            headers=api.operator(),
        )
        assert quiz.status_code == 201, quiz.text
        for right in (answer, answer):  # twice: the best counts once
            started = await api.client.post(
                f"{AC}/quizzes/{quiz.json()['id']}/attempts", headers=api.member(member)
            )
            assert started.status_code == 201, started.text
            done = await api.client.post(
                f"{AC}/quizzes/{quiz.json()['id']}/attempts/{started.json()['id']}/submit",
                json={"answers": {qid: right}},
                headers=api.member(member),
            )
            assert done.status_code == 200, done.text

    api.at(T0 + timedelta(hours=6))  # 1 Dec in New York
    await attempt("c-1", "m-1", True)
    await attempt("c-2", "m-2", True)
    await attempt("c-2", "m-2", True)
    await attempt("c-1", "m-1", False)
    board = await standings(api, contest["id"])
    assert [(s["member_id"], s["score"]) for s in board["standings"]] == [("m-2", 2), ("m-1", 1)]
    # A member of any community sees a tenant-wide contest.
    listed = await api.client.get(f"{AC}/contests", headers=api.member("m-1"))
    assert [c["id"] for c in listed.json()] == [contest["id"]]


async def test_refusals(api: Any) -> None:
    body = {
        "community_id": "c-1",
        "title": "x",
        "metric": "checkins",
        "start_date": "2026-11-01",
        "end_date": "2026-11-30",
        "awards": [{"points": 1}],
    }
    cases = [
        ({}, 422, "invalid-contest"),  # over already
        ({"community_id": "c-x"}, 404, "not-found"),  # another tenant's
        ({"start_date": "2026-12-05", "end_date": "2026-12-01"}, 422, "invalid-contest"),
        ({"end_date": "2026-12-31", "awards": [{"points": 0}]}, 422, None),
        ({"end_date": "2026-12-31", "awards": []}, 422, None),
        (
            {"community_id": None, "timezone": "Mars/Olympus", "end_date": "2026-12-31"},
            422,
            "invalid-contest",
        ),
    ]
    for change, status, slug in cases:
        answer = await api.client.post(
            f"{AC}/contests", json={**body, **change}, headers=api.operator()
        )
        assert answer.status_code == status, (change, answer.text)
        if slug:
            assert answer.json()["type"].endswith(slug)
    member = await api.client.post(
        f"{AC}/contests", json={**body, "end_date": "2026-12-31"}, headers=api.member("m-1")
    )
    assert member.status_code == 403
    contest = await new_contest(api)
    board = await api.client.get(
        f"{AC}/contests/{contest['id']}/standings", headers=api.member("m-1")
    )
    assert board.status_code == 403
    missing = await api.client.get(f"{AC}/contests/nope", headers=api.operator())
    assert missing.status_code == 404
