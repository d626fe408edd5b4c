"""Check-in challenges through the API on both backends: local days, windows, make-up
cards, completion and milestones as events in the outbox, leaderboard and calendar."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

AC = "/v1/activities"
CHECKED_IN = "quanzi.activities.checkin.recorded.v1"
COMPLETED = "quanzi.activities.challenge.completed.v1"
MILESTONE = "quanzi.activities.challenge.milestone_reached.v1"


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """``day`` December 2026 at a Shanghai wall-clock time (UTC+8, no DST)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


async def test_2359_and_0001_are_two_days_and_make_a_streak(api: Any) -> None:
    await api.seat("m-1")
    challenge = await api.challenge(required_days=2, milestones=[2])
    api.at(shanghai(2, 23, 59))
    first = await api.check_in(challenge["id"], "m-1", text="早")
    api.at(shanghai(3, 0, 1))
    second = await api.check_in(challenge["id"], "m-1", text="早")
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert (first.json()["day"], second.json()["day"]) == ("2026-12-02", "2026-12-03")
    assert second.json()["streak"] == 2 and second.json()["completed"] is True
    again = await api.check_in(challenge["id"], "m-1")
    assert again.status_code == 409
    assert again.json()["type"].endswith("already-checked-in")
    recorded = await api.published(CHECKED_IN)
    assert [e.data["day"] for e in recorded] == ["2026-12-02", "2026-12-03"]
    assert all(e.key == "m-1" and e.data["community_id"] == "c-1" for e in recorded)
    # The event's time is the check-in's: rewards counts its caps on that local day.
    assert [e.time for e in recorded] == [shanghai(2, 23, 59), shanghai(3, 0, 1)]
    [completed] = await api.published(COMPLETED)
    assert completed.data["days_checked"] == 2 and completed.data["total_days"] == 21
    [milestone] = await api.published(MILESTONE)
    assert milestone.data["milestone_days"] == 2


async def test_the_window_is_on_the_communitys_clock(api: Any) -> None:
    await api.seat("m-1", "c-2")
    challenge = await api.challenge(
        community_id="c-2",
        start_date="2026-03-01",
        end_date="2026-03-20",
        window_start="05:00",
        window_end="09:00",
    )
    api.at(datetime(2026, 3, 7, 9, 30, tzinfo=UTC))  # 04:30 EST: too early
    early = await api.check_in(challenge["id"], "m-1")
    assert early.status_code == 409 and early.json()["type"].endswith("outside-check-in-window")
    api.at(datetime(2026, 3, 8, 9, 30, tzinfo=UTC))  # 05:30 EDT, the day clocks sprang forward
    assert (await api.check_in(challenge["id"], "m-1")).json()["day"] == "2026-03-08"


async def test_a_make_up_card_fills_a_missed_day_within_reach_once(api: Any) -> None:
    await api.seat("m-1")
    challenge = await api.challenge(makeup_cards=1, makeup_days=2, required_days=3)
    cid = challenge["id"]
    api.at(shanghai(1, 7))
    assert (await api.check_in(cid, "m-1")).status_code == 201
    api.at(shanghai(3, 7))
    assert (await api.check_in(cid, "m-1")).json()["streak"] == 1
    made = await api.make_up(cid, "m-1", "2026-12-02")
    assert made.status_code == 201, made.text
    assert made.json()["make_up"] is True and made.json()["streak"] == 3
    assert made.json()["completed"] is True
    none_left = await api.make_up(cid, "m-1", "2026-12-02")
    assert none_left.status_code == 409
    api.at(shanghai(9, 7))
    too_old = await api.make_up(cid, "m-1", "2026-12-04")
    assert too_old.json()["type"].endswith("make-up-too-old")
    calendar = await api.client.get(f"{AC}/challenges/{cid}/calendar", headers=api.member("m-1"))
    body = calendar.json()
    states = [d["state"] for d in body["days"][:4]]
    assert states == ["checked", "made_up", "checked", "missed"]
    assert body["best_streak"] == 3 and body["streak"] == 0 and body["makeups_left"] == 0
    made_up = [e for e in await api.published(CHECKED_IN) if e.data["make_up"]]
    assert [e.data["day"] for e in made_up] == ["2026-12-02"]


async def test_content_rules_and_refusals_are_problems(api: Any) -> None:
    await api.seat("m-1")
    challenge = await api.challenge(requires=["text", "number"], min_text_length=4)
    api.at(shanghai(1, 8))
    thin = await api.check_in(challenge["id"], "m-1", text="读书")
    assert thin.status_code == 422
    assert thin.headers["content-type"].startswith("application/problem+json")
    ok = await api.check_in(challenge["id"], "m-1", text="读了二十页", number=20)
    assert ok.status_code == 201
    bad = await api.client.post(
        f"{AC}/challenges",
        json={
            "community_id": "c-1",
            "title": "x",
            "start_date": "2026-12-10",
            "end_date": "2026-12-01",
            "required_days": 1,
        },
        headers=api.operator(),
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-challenge")
    unknown = await api.client.post(
        f"{AC}/challenges",
        json={
            "community_id": "c-x",
            "title": "x",
            "start_date": "2026-12-01",
            "end_date": "2026-12-02",
            "required_days": 1,
        },
        headers=api.operator(),
    )
    assert unknown.status_code == 404  # c-x is another tenant's
    as_member = await api.client.post(f"{AC}/challenges", json={}, headers=api.member("m-1"))
    assert as_member.status_code in (403, 422)


async def test_only_seated_members_take_part(api: Any) -> None:
    await api.seat("m-1", group_id="g-1")
    await api.seat("m-2", group_id="g-2")
    challenge = await api.challenge(group_id="g-1")
    api.at(shanghai(1, 8))
    assert (await api.check_in(challenge["id"], "m-2")).status_code == 404
    assert (await api.check_in(challenge["id"], "stranger")).status_code == 404
    await api.deliver(api.membership("left", "m-1", at=shanghai(1, 9)))
    assert (await api.check_in(challenge["id"], "m-1")).status_code == 404
    listed = await api.client.get(f"{AC}/challenges", headers=api.member("m-2"))
    assert listed.json() == []
    assert await api.published(CHECKED_IN) == []


async def test_the_leaderboard_ranks_streaks_totals_and_the_earliest(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    challenge = await api.challenge()
    cid = challenge["id"]
    plan = {"m-1": (1, 2, 3), "m-2": (1, 3), "m-3": (3,)}
    for day in (1, 2, 3):
        for minute, (member, days) in enumerate(sorted(plan.items(), reverse=True)):
            if day in days:
                api.at(shanghai(day, 6, minute))
                assert (await api.check_in(cid, member)).status_code == 201
    board = await api.client.get(f"{AC}/challenges/{cid}/leaderboard", headers=api.operator())
    assert [(e["member_id"], e["streak"]) for e in board.json()["entries"]] == [
        ("m-1", 3),
        ("m-2", 1),
        ("m-3", 1),
    ]
    totals = await api.client.get(
        f"{AC}/challenges/{cid}/leaderboard?by=total", headers=api.member("m-2")
    )
    assert [e["total_days"] for e in totals.json()["entries"]] == [3, 2, 1]
    earliest = await api.client.get(
        f"{AC}/challenges/{cid}/leaderboard?by=earliest&day=2026-12-03", headers=api.operator()
    )
    assert [e["member_id"] for e in earliest.json()["entries"]] == ["m-3", "m-2", "m-1"]
    api.at(shanghai(6, 8))  # three days later, every streak has lapsed
    later = await api.client.get(f"{AC}/challenges/{cid}/leaderboard", headers=api.operator())
    assert [e["streak"] for e in later.json()["entries"]] == [0, 0, 0]


async def test_concurrent_check_ins_of_one_member_count_once(api: Any) -> None:
    await api.seat("m-1")
    challenge = await api.challenge(makeup_cards=5, makeup_days=5)
    api.at(shanghai(4, 8))
    calls = [api.check_in(challenge["id"], "m-1") for _ in range(10)]
    calls += [api.make_up(challenge["id"], "m-1", f"2026-12-0{d}") for d in (1, 2, 3)]
    answers = await asyncio.gather(*calls)
    assert sorted(a.status_code for a in answers) == [201] * 4 + [409] * 9
    recorded = await api.published(CHECKED_IN)
    assert sorted(e.data["day"] for e in recorded) == [f"2026-12-0{d}" for d in (1, 2, 3, 4)]
    calendar = await api.client.get(
        f"{AC}/challenges/{challenge['id']}/calendar", headers=api.member("m-1")
    )
    assert calendar.json()["streak"] == 4 and calendar.json()["makeups_left"] == 2
