"""Quizzes through the API on both backends: answers hidden until submission, scoring on
the server, late and repeated submissions refused, concurrency, quiz.completed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from .conftest import AC, T0

COMPLETED = "quanzi.activities.quiz.completed.v1"
QUESTIONS = [
    {
        "kind": "single",
        "prompt": "核心是?",
        "options": ["人", "钱"],
        "answer": 0,
        "explanation": "人",
    },
    {"kind": "multiple", "prompt": "打卡?", "options": ["早起", "读书", "吵架"], "answer": [0, 1]},
    {"kind": "true_false", "prompt": "补卡无限?", "answer": False},
    {"kind": "fill_in", "prompt": "积分", "answer": ["points"]},
]
RIGHT: list[Any] = [0, [1, 0], False, " POINTS "]


async def bank(api: Any) -> list[str]:
    ids = []
    for body in QUESTIONS:
        answer = await api.client.post(f"{AC}/questions", json=body, headers=api.operator())
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


async def quiz(api: Any, ids: list[str], **body: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "社群运营小测",
        "question_ids": ids,
        "opens_at": T0.isoformat(),
        "closes_at": (T0 + timedelta(days=1)).isoformat(),
        **body,
    }
    answer = await api.client.post(f"{AC}/quizzes", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def start(api: Any, quiz_id: str, member: str = "m-1") -> Any:
    return await api.client.post(f"{AC}/quizzes/{quiz_id}/attempts", headers=api.member(member))


async def submit(api: Any, quiz_id: str, attempt_id: str, answers: dict[str, Any]) -> Any:
    return await api.client.post(
        f"{AC}/quizzes/{quiz_id}/attempts/{attempt_id}/submit",
        json={"answers": answers},
        headers=api.member("m-1"),
    )


async def test_answers_stay_hidden_until_the_server_scores_the_submission(api: Any) -> None:
    await api.seat("m-1")
    ids = await bank(api)
    q = await quiz(api, ids, pass_percent=75, time_limit_s=600)
    started = await start(api, q["id"])
    assert started.status_code == 201, started.text
    attempt = started.json()
    assert '"answer"' not in started.text and "explanation" not in started.text
    assert {tuple(sorted(item)) for item in attempt["questions"]} == {
        ("id", "kind", "options", "prompt")
    }
    assert [item["id"] for item in attempt["questions"]] == ids
    shown = await api.client.get(
        f"{AC}/quizzes/{q['id']}/attempts/{attempt['id']}", headers=api.member("m-1")
    )
    assert '"answer"' not in shown.text and shown.json()["results"] is None
    answers = dict(zip(ids, RIGHT, strict=True))
    answers[ids[1]] = [0]  # one wrong
    api.at(T0 + timedelta(minutes=5))
    done = await submit(api, q["id"], attempt["id"], answers)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["correct_answers"], body["score"], body["passed"]) == (3, 75, True)
    assert [r["correct"] for r in body["results"]] == [True, False, True, True]
    assert body["results"][0]["explanation"] == "人"
    again = await submit(api, q["id"], attempt["id"], answers)
    assert again.status_code == 409 and again.json()["type"].endswith("attempt-already-submitted")
    [event] = await api.published(COMPLETED)
    assert (event.data["correct_answers"], event.data["total_questions"]) == (3, 4)
    assert event.key == "m-1" and event.data["attempt_id"] == attempt["id"]


async def test_late_and_surplus_attempts_are_refused(api: Any) -> None:
    await api.seat("m-1")
    ids = await bank(api)
    q = await quiz(api, ids, time_limit_s=60, attempts_allowed=1, draw_count=2)
    attempt = (await start(api, q["id"])).json()
    assert len(attempt["questions"]) == 2 and {i["id"] for i in attempt["questions"]} <= set(ids)
    again = await start(api, q["id"])
    assert again.status_code == 409 and again.json()["type"].endswith("no-attempts-left")
    api.at(T0 + timedelta(seconds=61))
    late = await submit(api, q["id"], attempt["id"], {})
    assert late.status_code == 409 and late.json()["type"].endswith("submission-late")
    assert await api.published(COMPLETED) == []
    api.at(T0 + timedelta(days=2))
    assert (await start(api, q["id"], "m-1")).json()["type"].endswith("quiz-closed")


async def test_a_hundred_concurrent_submissions_of_one_attempt_are_scored_once(api: Any) -> None:
    await api.seat("m-1")
    ids = await bank(api)
    q = await quiz(api, ids, attempts_allowed=1)
    starts = await asyncio.gather(*(start(api, q["id"]) for _ in range(10)))
    assert sorted(s.status_code for s in starts) == [201] + [409] * 9
    attempt = next(s.json() for s in starts if s.status_code == 201)
    answers = dict(zip(ids, RIGHT, strict=True))
    answered = await asyncio.gather(
        *(submit(api, q["id"], attempt["id"], answers) for _ in range(100))
    )
    assert sorted(a.status_code for a in answered) == [200] + [409] * 99
    [event] = await api.published(COMPLETED)
    assert event.data["correct_answers"] == 4 and event.data["passed"] is True


async def test_bad_settings_and_strangers_get_problems(api: Any) -> None:
    await api.seat("m-1")
    ids = await bank(api)
    bad_question = await api.client.post(
        f"{AC}/questions",
        json={"kind": "single", "prompt": "x", "options": ["a", "b"], "answer": 5},
        headers=api.operator(),
    )
    assert bad_question.status_code == 422
    assert bad_question.json()["type"].endswith("invalid-quiz")
    closed_first = {
        "community_id": "c-1",
        "title": "x",
        "question_ids": ids,
        "opens_at": T0.isoformat(),
        "closes_at": T0.isoformat(),
    }
    answer = await api.client.post(f"{AC}/quizzes", json=closed_first, headers=api.operator())
    assert answer.status_code == 422
    too_many = {**closed_first, "closes_at": (T0 + timedelta(days=1)).isoformat(), "draw_count": 9}
    answer = await api.client.post(f"{AC}/quizzes", json=too_many, headers=api.operator())
    assert answer.status_code == 422
    unknown = {**too_many, "draw_count": None, "question_ids": ["nope"]}
    answer = await api.client.post(f"{AC}/quizzes", json=unknown, headers=api.operator())
    assert answer.status_code == 404
    q = await quiz(api, ids)
    assert (await start(api, q["id"], "stranger")).status_code == 404
    bank_as_member = await api.client.get(f"{AC}/questions", headers=api.member("m-1"))
    assert bank_as_member.status_code == 403  # the bank holds the answers
