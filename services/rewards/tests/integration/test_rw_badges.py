"""Badges through the consumer path and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import func, select

from rewards.badges.domain import default_badge_rules
from rewards.orm import badge_marks, badge_progress
from rewards.rules import handlers as earning
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

AWARDED = "quanzi.rewards.badge.awarded.v1"
CHECKED_IN = "quanzi.activities.checkin.recorded.v1"
PROBLEM = "application/problem+json"
TENANT = "t-acme"


def checked_in(member_id: str, at: datetime, tenant_id: str = TENANT) -> Event:
    return Event(
        type=CHECKED_IN,
        source="/activities",
        tenant_id=tenant_id,
        topic="activities.checkins",
        key=member_id,
        time=at,
        data={"tenant_id": tenant_id, "member_id": member_id, "community_id": "c-1"},
    )


async def consume(ledger: Ledger, *events: Event) -> None:
    """One poll of a topic whose types are handled by the rules (the batched handler)."""
    async with transaction(ledger.sessions) as session:
        await earning.apply_rules_many(session, list(events))


async def awards(ledger: Ledger, member_id: str | None = None) -> list[tuple[str, str, int]]:
    """(member, badge, times) of every badge.awarded in the outbox, contracts checked."""
    found = await ledger.published(AWARDED)
    return [
        (e.data["member_id"], e.data["badge_id"], e.data["times"])
        for e in found
        if member_id is None or e.key == member_id
    ]


async def count_rows(ledger: Ledger, table: Any) -> int:
    async with ledger.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


def days_ago(days: int) -> datetime:
    return utcnow().replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=days)


# ----------------------------------------------------------- consumer path


async def test_a_join_awards_the_welcome_badge_once(ledger: Ledger) -> None:
    joined = ledger.activated("m-1", "newbie", inviter_id="host")
    await ledger.deliver(joined)
    assert await awards(ledger) == [("newbie", "welcome", 1)]
    [event] = await ledger.published(AWARDED)
    assert event.topic == "rewards.points" and event.key == "newbie"
    assert event.data["name"] == "新人报到" and event.data["event_id"] == joined.id
    await ledger.deliver(joined)  # redelivered
    await ledger.deliver_batch(joined)  # replayed inside a batch
    await ledger.deliver(ledger.activated("m-1", "newbie"))  # trial → paid: same membership
    assert await awards(ledger) == [("newbie", "welcome", 1)]
    # host's referral counted once towards 推荐达人 (1 of 5), not three times
    async with ledger.engine.connect() as connection:
        state = await connection.scalar(
            select(badge_progress.c.state).where(
                badge_progress.c.member_id == "host", badge_progress.c.rule_id == "referrals-5"
            )
        )
    assert state["count"] == 1


async def test_redelivered_streak_days_count_once(ledger: Ledger) -> None:
    week = [checked_in("crm-1", days_ago(13 - day)) for day in range(7)]
    await consume(ledger, *week[:3])
    await consume(ledger, *week[:3])  # the same poll again: nothing moves
    await consume(ledger, *week[2:6])  # overlapping redelivery
    assert await awards(ledger) == []
    await consume(ledger, week[6])
    assert await awards(ledger) == [("crm-1", "check-in-streak-7", 1)]
    await consume(ledger, *week)  # a replay from offset 0
    assert await awards(ledger) == [("crm-1", "check-in-streak-7", 1)]
    # Repeatable: seven more consecutive days earn it again.
    more = [checked_in("crm-1", days_ago(6 - day)) for day in range(7)]
    await consume(ledger, *more)
    assert await awards(ledger) == [
        ("crm-1", "check-in-streak-7", 1),
        ("crm-1", "check-in-streak-7", 2),
    ]
    assert await count_rows(ledger, badge_marks) == 14
    await ledger.check_invariants()


async def test_one_by_one_and_batched_award_the_same(ledger: Ledger) -> None:
    days = [checked_in(m, days_ago(9 - d)) for d in range(9) for m in ("a", "b")]
    for event in days:
        await consume(ledger, event)
    one_by_one = await awards(ledger)
    replayed = [checked_in(m, days_ago(9 - d)) for d in range(9) for m in ("c", "d")]
    await consume(ledger, *replayed)
    batched = await awards(ledger)
    assert sorted((b, t) for _, b, t in batched[len(one_by_one) :]) == sorted(
        (b, t) for _, b, t in one_by_one
    )
    assert {m for m, _, _ in one_by_one} == {"a", "b"}


async def test_a_level_reached_awards_its_badge(api: Api, ledger: Ledger) -> None:
    # A rule for level 2: the join bonus (10 points) reaches it through the consumer.
    created = await api.client.post(
        "/v1/rewards/badge-rules",
        json={"name": "起步", "criterion": "level", "threshold": 2, "title": "新星"},
        headers=api.operator("admin"),
    )
    assert created.status_code == 201, created.text
    level_2 = created.json()["id"]
    joined = ledger.activated("m-1", "newbie")
    await ledger.deliver(joined)
    await ledger.deliver(joined)
    assert sorted(await awards(ledger, "newbie")) == [
        ("newbie", level_2, 1),
        ("newbie", "welcome", 1),
    ]
    # An adjustment to 200 lifetime points reaches level 5 (资深成员).
    answer = await api.client.post(
        "/v1/rewards/adjustments",
        json={"member_id": "newbie", "points": 190, "reason": "contest prize"},
        headers=api.operator("admin", **{"Idempotency-Key": "prize-1"}),
    )
    assert answer.status_code == 201, answer.text
    assert ("newbie", "level-5", 1) in await awards(ledger, "newbie")
    mine = await api.client.get("/v1/rewards/me/badges", headers=api.member("newbie"))
    assert mine.status_code == 200
    page = mine.json()
    assert page["titles"] == ["资深成员", "新星"]
    held = {b["badge_id"]: b for b in page["items"] if b["earned"]}
    assert set(held) == {"welcome", "level-5", level_2}
    assert held["level-5"]["progress"] == {"current": 5, "target": 5}


# -------------------------------------------------------------------- API


async def test_members_see_their_badges_and_progress(api: Api, ledger: Ledger) -> None:
    await consume(ledger, *[checked_in("crm-1", days_ago(2 - d)) for d in range(3)])
    answer = await api.client.get("/v1/rewards/me/badges", headers=api.member("crm-1"))
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["member_id"] == "crm-1" and page["titles"] == []
    by_id = {b["badge_id"]: b for b in page["items"]}
    streak = by_id["check-in-streak-7"]
    assert streak["earned"] is False and streak["progress"] == {"current": 3, "target": 7}
    assert by_id["level-5"]["progress"]["target"] == 5
    earned = await api.client.get(
        "/v1/rewards/me/badges", params={"earned": "true"}, headers=api.member("crm-1")
    )
    assert earned.json()["items"] == []
    # Pages follow the rules' order; every default rule is listed once.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        got = await api.client.get(
            "/v1/rewards/me/badges", params=params, headers=api.member("crm-1")
        )
        seen += [b["badge_id"] for b in got.json()["items"]]
        cursor = got.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == list(by_id)
    assert len(seen) == len(default_badge_rules())


async def test_operators_keep_badge_rules(api: Api, ledger: Ledger) -> None:
    admin = api.operator("admin")
    rule = {
        "name": "答题之星",
        "description": "30 天内答对题 5 次",
        "title": "学霸",
        "criterion": "within_days",
        "threshold": 5,
        "days": 30,
        "event_type": "quanzi.activities.quiz.completed.v1",
        "repeatable": True,
        "conditions": [{"path": "correct_answers", "op": "gte", "value": 1}],
    }
    created = await api.client.post("/v1/rewards/badge-rules", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    assert created.json()["conditions"] == rule["conditions"]
    listed = await api.client.get("/v1/rewards/badge-rules", params={"limit": 5}, headers=admin)
    first = listed.json()
    assert [r["id"] for r in first["items"]][:2] == ["welcome", "referrals-5"]
    rest = await api.client.get(
        "/v1/rewards/badge-rules", params={"cursor": first["next_cursor"]}, headers=admin
    )
    assert [r["id"] for r in rest.json()["items"]][-1] == rule_id
    patched = await api.client.patch(
        f"/v1/rewards/badge-rules/{rule_id}", json={"threshold": 3, "title": None}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["threshold"], patched.json()["title"]) == (3, None)
    gone = await api.client.delete(f"/v1/rewards/badge-rules/{rule_id}", headers=admin)
    assert gone.status_code == 204
    archived = await api.client.get(
        "/v1/rewards/badge-rules", params={"archived": "true"}, headers=admin
    )
    assert [r["id"] for r in archived.json()["items"]] == [rule_id]
    # An archived rule counts nothing; the defaults still do.
    await consume(ledger, checked_in("crm-1", days_ago(0)))
    member = await api.client.get(
        "/v1/rewards/members/crm-1/badges", headers=api.operator("activity_officer")
    )
    assert member.status_code == 200
    assert rule_id not in {b["badge_id"] for b in member.json()["items"]}
    # Resumed by PATCH archived=false.
    back = await api.client.patch(
        f"/v1/rewards/badge-rules/{rule_id}", json={"archived": False}, headers=admin
    )
    assert back.status_code == 200 and back.json()["archived"] is False


async def test_a_lower_threshold_awards_at_the_next_event(api: Api, ledger: Ledger) -> None:
    await consume(ledger, *[checked_in("crm-1", days_ago(3 - d)) for d in range(3)])
    admin = api.operator("owner")
    answer = await api.client.patch(
        "/v1/rewards/badge-rules/check-in-streak-7", json={"threshold": 3}, headers=admin
    )
    assert answer.status_code == 200
    await consume(ledger, checked_in("crm-1", days_ago(0)))
    assert await awards(ledger) == [("crm-1", "check-in-streak-7", 1)]


async def test_other_tenants_rules_and_members_are_not_found(api: Api, ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "newbie"))
    mine = await api.client.get("/v1/rewards/members/newbie/badges", headers=api.operator("owner"))
    assert mine.status_code == 200
    assert [b["badge_id"] for b in mine.json()["items"] if b["earned"]] == ["welcome"]
    created = await api.client.post(
        "/v1/rewards/badge-rules",
        json={"name": "x", "criterion": "count", "threshold": 1, "event_type": "a.b.v1"},
        headers=api.operator("owner"),
    )
    rule_id = created.json()["id"]
    other = api.operator("owner", tenant_id="t-other")
    for method, path, body in (
        ("GET", f"/v1/rewards/badge-rules/{rule_id}", None),
        ("PATCH", f"/v1/rewards/badge-rules/{rule_id}", {"name": "mine now"}),
        ("DELETE", f"/v1/rewards/badge-rules/{rule_id}", None),
        ("GET", "/v1/rewards/members/newbie/badges", None),
        ("PATCH", "/v1/rewards/badge-rules/no-such-rule", {"name": "y"}),
    ):
        answer = await api.client.request(method, path, json=body, headers=other)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    theirs = await api.client.get("/v1/rewards/me/badges", headers=api.member("newbie", "t-other"))
    assert [b for b in theirs.json()["items"] if b["earned"]] == []
    still = await api.client.get(
        f"/v1/rewards/badge-rules/{rule_id}", headers=api.operator("owner")
    )
    assert still.json()["name"] == "x" and still.json()["archived"] is False


async def test_roles_are_enforced(api: Api) -> None:
    body = {"name": "x", "criterion": "count", "threshold": 1, "event_type": "a.b.v1"}
    for headers in (api.operator("content_officer"), api.member("crm-1")):
        answer = await api.client.post("/v1/rewards/badge-rules", json=body, headers=headers)
        assert answer.status_code == 403 and answer.headers["content-type"] == PROBLEM
    for path in ("/v1/rewards/badge-rules", "/v1/rewards/members/crm-1/badges"):
        answer = await api.client.get(path, headers=api.member("crm-1"))
        assert answer.status_code == 403
    as_operator = await api.client.get("/v1/rewards/me/badges", headers=api.operator("owner"))
    assert as_operator.status_code == 403
    assert (await api.client.get("/v1/rewards/me/badges")).status_code == 401


async def test_bad_input_is_a_clear_problem(api: Api, ledger: Ledger) -> None:
    admin = api.operator("admin")
    good = {"name": "x", "criterion": "count", "threshold": 1, "event_type": "a.b.v1"}
    for bad in (
        {**good, "name": "a\x00b"},
        {**good, "name": ""},
        {**good, "threshold": 0},
        {**good, "threshold": "many"},
        {**good, "criterion": "sometimes"},
        {**good, "extra": 1},
        {**good, "event_type": "has space"},
        {**good, "conditions": [{"path": "a", "op": "eq", "value": "\x00"}]},
        {**good, "conditions": [{"path": "a..b", "op": "eq"}]},
        {**good, "repeatable": "yes"},
        {**good, "criterion": "level"},  # a level rule with an event type
        {**good, "criterion": "within_days"},  # no days
        {**good, "days": 7},  # days without within_days
        {"name": "x", "criterion": "level", "threshold": 5, "repeatable": True},
        {"name": "x", "criterion": "count", "threshold": 1},  # no event type
    ):
        answer = await api.client.post("/v1/rewards/badge-rules", json=bad, headers=admin)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    nan = await api.client.post(
        "/v1/rewards/badge-rules",
        content=b'{"name": "x", "criterion": "count", "threshold": 1, "event_type": "a.b.v1",'
        b' "conditions": [{"path": "a", "op": "gte", "value": NaN}]}',
        headers={**admin, "content-type": "application/json"},
    )
    assert nan.status_code == 422, nan.text
    for patch in ({"criterion": "streak"}, {"event_type": "c.d.v1"}, {"name": None}, {"days": 3}):
        answer = await api.client.patch(
            "/v1/rewards/badge-rules/welcome", json=patch, headers=admin
        )
        assert answer.status_code == 422, (patch, answer.text)
    for params in ({"cursor": "%%%"}, {"limit": 0}, {"earned": "perhaps"}):
        answer = await api.client.get(
            "/v1/rewards/me/badges", params=params, headers=api.member("m")
        )
        assert answer.status_code in (400, 422), (params, answer.text)
    long_id = await api.client.patch("/v1/rewards/badge-rules/" + "x" * 40, json={}, headers=admin)
    assert long_id.status_code == 422
    # Nothing half-written: only the defaults.
    listed = await api.client.get("/v1/rewards/badge-rules", headers=admin)
    assert len(listed.json()["items"]) == len(default_badge_rules())


async def _create(api: Api, n: int) -> list[httpx.Response]:
    body = {"name": "x", "criterion": "count", "threshold": 1, "event_type": "a.b.v1"}
    return [
        await api.client.post("/v1/rewards/badge-rules", json=body, headers=api.operator("owner"))
        for _ in range(n)
    ]


async def test_the_number_of_active_rules_is_capped(api: Api, monkeypatch: Any) -> None:
    from rewards.badges import service as badges

    monkeypatch.setattr(badges, "MAX_ACTIVE_RULES", len(default_badge_rules()) + 2)
    answers = await _create(api, 3)
    assert [a.status_code for a in answers] == [201, 201, 409]
    assert answers[2].json()["type"].endswith("too-many-badge-rules")
    first = answers[0].json()["id"]
    admin = api.operator("owner")
    await api.client.delete(f"/v1/rewards/badge-rules/{first}", headers=admin)
    assert [a.status_code for a in await _create(api, 1)] == [201]
    back = await api.client.patch(
        f"/v1/rewards/badge-rules/{first}", json={"archived": False}, headers=admin
    )
    assert back.status_code == 409
