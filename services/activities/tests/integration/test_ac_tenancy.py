"""Every route, called by another tenant with the first tenant's ids, is turned away.

Tenant A sets up a challenge and a member checks in. Tenant B's owner and member (with
the same external id as A's member) then call every route of the OpenAPI document with
A's ids in the path, the query or the body. No call may succeed, fail with a 5xx, or stop
at validation; each route answers 404 to at least one of B's principals (the other may be
turned away earlier with 403). A route added later without an entry here fails
``test_every_route_is_covered``.
"""

from __future__ import annotations

from typing import Any

from activities.meetups.domain import checkin_code
from activities.meetups.service import code_key

from .conftest import AC, OTHER

B = OTHER
BODIES: dict[str, Any] = {
    "POST /challenges": {
        "community_id": "c-1",
        "title": "x",
        "start_date": "2026-12-01",
        "end_date": "2026-12-02",
        "required_days": 1,
    },
    "POST /challenges/{challenge_id}/checkins": {"text": "x"},
    "POST /challenges/{challenge_id}/makeups": {"day": "2026-12-01"},
    "POST /quizzes": {
        "community_id": "c-1",
        "title": "x",
        "question_ids": ["QUESTION"],
        "opens_at": "2026-12-01T00:00:00+00:00",
        "closes_at": "2026-12-09T00:00:00+00:00",
    },
    "POST /quizzes/{quiz_id}/attempts/{attempt_id}/submit": {"answers": {}},
    "POST /polls": {
        "community_id": "c-1",
        "question": "?",
        "options": ["a", "b"],
        "closes_at": "2026-12-09T00:00:00+00:00",
    },
    "PUT /polls/{poll_id}/vote": {"choices": [0]},
    "POST /draws": {
        "community_id": "c-1",
        "title": "x",
        "prizes": [{"name": "x", "kind": "points", "quantity": 1, "points": 5}],
        "closes_at": "2026-12-09T00:00:00+00:00",
    },
    "POST /drops": {"community_id": "c-1", "total_points": 10, "slots": 2, "split": "equal"},
    "POST /meetups": {
        "community_id": "c-1",
        "title": "x",
        "city": "上海",
        "venue": "x",
        "capacity": 1,
        "opens_at": "2026-12-01T00:00:00+00:00",
        "closes_at": "2026-12-05T00:00:00+00:00",
        "starts_at": "2026-12-06T00:00:00+00:00",
        "ends_at": "2026-12-06T03:00:00+00:00",
    },
    "POST /meetups/{meetup_id}/registrations": {"answers": {}},
    "POST /meetups/{meetup_id}/registrations/{registration_id}/review": {"decision": "approve"},
    "POST /meetups/{meetup_id}/checkins": {"code": "CODE"},
    "POST /talks": {
        "community_id": "c-1",
        "title": "x",
        "starts_at": "2026-12-01T00:00:00+00:00",
        "ends_at": "2026-12-09T00:00:00+00:00",
    },
    "POST /talks/{talk_id}/questions": {"text": "?"},
    "POST /talks/{talk_id}/questions/{question_id}/status": {"status": "hidden"},
    "POST /talks/{talk_id}/schedule": {
        "starts_at": "2026-12-03T00:00:00+00:00",
        "ends_at": "2026-12-09T00:00:00+00:00",
    },
    "PUT /talks/{talk_id}/attendance": {"minutes": 5},
    "POST /referrals": {
        "community_id": "c-1",
        "title": "x",
        "starts_at": "2026-12-01T00:00:00+00:00",
        "ends_at": "2026-12-09T00:00:00+00:00",
        "tiers": [{"invites": 1, "points": 10}],
    },
    "POST /contests": {
        "community_id": "c-1",
        "title": "x",
        "metric": "checkins",
        "start_date": "2026-12-01",
        "end_date": "2026-12-01",
        "awards": [{"points": 10}],
    },
}
QUERIES = {"GET /challenges/{challenge_id}/calendar": "?member_id=a-1"}
# No ids (lists, and a question added to the caller's own bank): lists are checked to
# show nothing of A below.
UNSCOPED = {
    "GET /challenges",
    "GET /quizzes",
    "GET /polls",
    "GET /draws",
    "GET /drops",
    "GET /meetups",
    "GET /referrals",
    "GET /talks",
    "GET /contests",
    "GET /questions",
    "POST /questions",
    "GET /whoami",
}


def routes(api: Any) -> list[str]:
    paths = api.app.openapi()["paths"]
    return sorted(
        f"{method.upper()} {path.removeprefix(AC)}"
        for path, operations in paths.items()
        if path.startswith(AC)
        for method in operations
    )


async def tenant_a(api: Any) -> dict[str, str]:
    await api.seat("a-1")
    challenge = await api.challenge(makeup_cards=3, makeup_days=3)
    assert (await api.check_in(challenge["id"], "a-1")).status_code == 201
    question = await api.client.post(
        f"{AC}/questions",
        json={"kind": "true_false", "prompt": "?", "answer": True},
        headers=api.operator(),
    )
    quiz = await api.client.post(
        f"{AC}/quizzes",
        json={**BODIES["POST /quizzes"], "question_ids": [question.json()["id"]]},
        headers=api.operator(),
    )
    attempt = await api.client.post(
        f"{AC}/quizzes/{quiz.json()['id']}/attempts", headers=api.member("a-1")
    )
    assert attempt.status_code == 201, attempt.text
    poll = await api.client.post(f"{AC}/polls", json=BODIES["POST /polls"], headers=api.operator())
    assert poll.status_code == 201, poll.text
    draw = await api.client.post(f"{AC}/draws", json=BODIES["POST /draws"], headers=api.operator())
    assert draw.status_code == 201, draw.text
    assert (
        await api.client.post(f"{AC}/draws/{draw.json()['id']}/entries", headers=api.member("a-1"))
    ).status_code == 204
    drop = await api.client.post(f"{AC}/drops", json=BODIES["POST /drops"], headers=api.operator())
    assert drop.status_code == 201, drop.text
    meetup = await api.client.post(
        f"{AC}/meetups",
        json={**BODIES["POST /meetups"], "selection": "review"},
        headers=api.operator(),
    )
    assert meetup.status_code == 201, meetup.text
    registration = await api.client.post(
        f"{AC}/meetups/{meetup.json()['id']}/registrations", json={}, headers=api.member("a-1")
    )
    assert registration.status_code == 201, registration.text
    campaign = await api.client.post(
        f"{AC}/referrals", json=BODIES["POST /referrals"], headers=api.operator()
    )
    assert campaign.status_code == 201, campaign.text
    talk = await api.client.post(f"{AC}/talks", json=BODIES["POST /talks"], headers=api.operator())
    assert talk.status_code == 201, talk.text
    talk_question = await api.client.post(
        f"{AC}/talks/{talk.json()['id']}/questions", json={"text": "?"}, headers=api.member("a-1")
    )
    assert talk_question.status_code == 201, talk_question.text
    contest = await api.client.post(
        f"{AC}/contests", json=BODIES["POST /contests"], headers=api.operator()
    )
    assert contest.status_code == 201, contest.text
    key = code_key(api.app.state.settings.secret_key.get_secret_value())
    return {
        "contest_id": contest.json()["id"],
        "drop_id": drop.json()["id"],
        "draw_id": draw.json()["id"],
        "code": checkin_code(key, "t-acme", meetup.json()["id"], 1),
        "meetup_id": meetup.json()["id"],
        "campaign_id": campaign.json()["id"],
        "talk_id": talk.json()["id"],
        "member_id": "a-1",
        "registration_id": registration.json()["id"],
        "poll_id": poll.json()["id"],
        "challenge_id": challenge["id"],
        "quiz_id": quiz.json()["id"],
        "attempt_id": attempt.json()["id"],
        "question_id": question.json()["id"],
        "talk_question_id": talk_question.json()["id"],
        "kind": "challenge",  # a review: the challenge's (every kind in test_ac_reviews.py)
        "activity_id": challenge["id"],
    }


def fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


async def test_every_route_is_covered(api: Any) -> None:
    scoped = {r for r in routes(api) if "{" in r}
    missing = set(routes(api)) - scoped - set(BODIES) - UNSCOPED
    assert not missing, f"add these routes to test_ac_tenancy.py: {sorted(missing)}"


async def test_another_tenant_is_turned_away_on_every_route(api: Any) -> None:
    ids = await tenant_a(api)
    api.at(api.now[0].replace(day=2))
    principals = {"owner": api.operator("owner", tenant_id=B), "member": api.member("a-1", B)}
    answers: dict[str, dict[str, int]] = {}
    for route in routes(api):
        if route in UNSCOPED:
            continue
        method, path = route.split(" ", 1)
        if path.startswith("/talks/"):  # a talk's question, not the quiz bank's
            path = path.replace("{question_id}", ids["talk_question_id"])
        url = AC + fill(path, ids) + QUERIES.get(route, "")
        body = BODIES.get(route)
        if route == "POST /quizzes":  # A's question in B's quiz
            body = {**body, "community_id": "c-x", "question_ids": [ids["question_id"]]}
        if route == "POST /meetups/{meetup_id}/checkins":  # a code A's meetup would take
            body = {"code": ids["code"]}
        answers[route] = {
            name: (await api.client.request(method, url, headers=headers, json=body)).status_code
            for name, headers in principals.items()
        }
    wrong = {r: s for r, s in answers.items() if any(c not in (403, 404) for c in s.values())}
    assert not wrong, f"another tenant's ids did not give 403/404: {wrong}"
    no_404 = {r: s for r, s in answers.items() if 404 not in s.values()}
    assert not no_404, f"no principal of tenant B reached a 404: {no_404}"
    # Nothing of B's landed on A's challenge: still the one check-in.
    checked = await api.published("quanzi.activities.checkin.recorded.v1")
    assert [e.tenant_id for e in checked] == ["t-acme"]
    assert await api.published("quanzi.activities.quiz.completed.v1") == []
    assert await api.published("quanzi.activities.poll.closed.v1") == []
    assert await api.published("quanzi.activities.draw.drawn.v1") == []
    assert await api.published("quanzi.activities.drop.claimed.v1") == []
    assert await api.published("quanzi.activities.meetup.confirmed.v1") == []
    assert await api.published("quanzi.activities.meetup.attended.v1") == []
    # A's contest ended (the clock is on its next day), but B's finish settled nothing.
    assert await api.published("quanzi.activities.contest.finished.v1") == []
    assert await api.published("quanzi.activities.talk.attended.v1") == []
    moved = await api.published("quanzi.activities.talk.scheduled.v1")
    assert [e.data["previous_starts_at"] for e in moved] == [None]  # A's set-up, not moved


async def test_lists_show_nothing_of_another_tenant(api: Any) -> None:
    await tenant_a(api)
    for headers in (api.operator("owner", tenant_id=B), api.member("a-1", B)):
        for path in (
            "/challenges",
            "/quizzes",
            "/polls",
            "/draws",
            "/drops",
            "/meetups",
            "/referrals",
            "/talks",
            "/contests",
        ):
            answer = await api.client.get(AC + path, headers=headers)
            assert answer.status_code == 200 and answer.json() == [], path
    bank = await api.client.get(f"{AC}/questions", headers=api.operator("owner", tenant_id=B))
    assert bank.status_code == 200 and bank.json() == []
