"""activities' events, as its contracts shape them, credited by the tenant's default
rules through the ``activities`` consumer's handlers: a check-in once (redelivered or
not), at most the daily cap however many check-ins a local day holds (make-up cards
included), and the completion bonus of a challenge, and a quiz per correct answer."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rewards import app as rewards_app
from rewards.orm import entries, wallets
from servicekit.events import Event
from servicekit.testing import contracts

if TYPE_CHECKING:
    from conftest import Ledger

TENANT = "t-acme"
# 08:00 on 2 Dec 2026 in Shanghai (the default zone of a community rewards has not heard of).
T0 = datetime(2026, 12, 2, 0, tzinfo=UTC)


def _event(kind: str, member_id: str, at: datetime, data: dict[str, Any]) -> Event:
    event = Event(
        type=f"quanzi.activities.{kind}.v1",
        source="/activities",
        tenant_id=TENANT,
        topic="activities.campaigns",
        key=member_id,
        time=at,
        data={
            "tenant_id": TENANT,
            "community_id": "c-1",
            "member_id": member_id,
            **({"challenge_id": "ch-1"} if not kind.startswith("quiz") else {}),
            **data,
        },
    )
    contracts().validate(event)  # what activities may publish
    return event


def checked_in(member_id: str, at: datetime, day: str, *, make_up: bool = False) -> Event:
    return _event(
        "checkin.recorded",
        member_id,
        at,
        {
            "checkin_id": str(uuid.uuid4()),
            "group_id": None,
            "day": day,
            "make_up": make_up,
            "streak": 1,
            "total_days": 1,
            "checked_at": at.isoformat(),
        },
    )


def completed(member_id: str, at: datetime) -> Event:
    return _event(
        "challenge.completed",
        member_id,
        at,
        {"days_checked": 7, "required_days": 7, "total_days": 10, "completed_at": at.isoformat()},
    )


async def credits(ledger: Ledger, member_id: str) -> list[tuple[str, int]]:
    async with ledger.engine.connect() as connection:
        query = (
            select(entries.c.rule_id, entries.c.available_delta)
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(wallets.c.tenant_id == TENANT, wallets.c.member_id == member_id)
            .order_by(entries.c.id)
        )
        return [(row.rule_id, row.available_delta) for row in await connection.execute(query)]


def test_rewards_consumes_activities_topic_for_every_event_it_credits() -> None:
    assert rewards_app.ACTIVITIES.topics == ["activities.campaigns"]
    topic = contracts().topics["activities.campaigns"]
    assert set(rewards_app.ACTIVITIES.handlers) <= set(topic.events)
    assert "rewards" in topic.consumers


async def test_a_check_in_is_credited_once_even_redelivered(ledger: Ledger) -> None:
    first = checked_in("m-1", T0, "2026-12-02")
    await ledger.deliver(first)
    await ledger.deliver(first)  # a duplicate publish: the same event id
    assert await credits(ledger, "m-1") == [("daily-check-in", 2)]
    await ledger.check_invariants()


async def test_a_local_days_check_ins_are_capped_and_the_next_day_pays_again(
    ledger: Ledger,
) -> None:
    await ledger.deliver_batch(
        checked_in("m-1", T0, "2026-12-02"),
        checked_in("m-1", T0 + timedelta(hours=1), "2026-12-01", make_up=True),
    )
    assert sum(points for _, points in await credits(ledger, "m-1")) == 2  # the daily cap
    await ledger.deliver(checked_in("m-1", T0 + timedelta(hours=16, minutes=1), "2026-12-03"))
    assert sum(points for _, points in await credits(ledger, "m-1")) == 4  # 00:01 next day
    await ledger.check_invariants()


async def test_a_completed_challenge_pays_its_bonus(ledger: Ledger) -> None:
    await ledger.deliver(completed("m-1", T0))
    assert await credits(ledger, "m-1") == [("completed-challenge", 20)]
    balances = await ledger.balances("m-1")
    assert balances is not None and balances["available"] == 20


def quiz_completed(member_id: str, at: datetime, correct: int) -> Event:
    return _event(
        "quiz.completed",
        member_id,
        at,
        {
            "quiz_id": "qz-1",
            "attempt_id": str(uuid.uuid4()),
            "score": 100 * correct // 5,
            "correct_answers": correct,
            "total_questions": 5,
            "passed": correct >= 3,
            "completed_at": at.isoformat(),
        },
    )


async def test_a_quiz_pays_per_correct_answer_and_nothing_for_none(ledger: Ledger) -> None:
    await ledger.deliver(quiz_completed("m-1", T0, 4), quiz_completed("m-2", T0, 0))
    assert await credits(ledger, "m-1") == [("correct-answers", 20)]  # 5 × 4
    assert await credits(ledger, "m-2") == []


def draw_won(member_id: str, at: datetime, kind: str, points: int | None) -> Event:
    return _event(
        "draw.won",
        member_id,
        at,
        {
            "draw_id": "dr-1",
            "win_id": str(uuid.uuid4()),
            "round": 0,
            "prize_name": "100 积分" if points else "签名书",
            "prize_kind": kind,
            "points": points,
            "item_id": None,
            "claim_by": (at + timedelta(days=7)).isoformat(),
            "won_at": at.isoformat(),
        },
    )


async def test_a_draws_points_prize_is_credited_once_other_prizes_not(ledger: Ledger) -> None:
    won = draw_won("m-1", T0, "points", 100)
    await ledger.deliver(won)
    await ledger.deliver(won)  # redelivered
    await ledger.deliver(draw_won("m-2", T0, "operator", None))
    assert await credits(ledger, "m-1") == [("draw-prize", 100)]
    assert await credits(ledger, "m-2") == []
    await ledger.check_invariants()


def talk_attended(member_id: str, at: datetime, minutes: int, talk_id: str = "tk-1") -> Event:
    return _event(
        "talk.attended",
        member_id,
        at,
        {"talk_id": talk_id, "minutes": minutes, "attended_at": at.isoformat()},
    )


async def test_an_attended_talk_pays_once_from_ten_minutes_within_the_daily_cap(
    ledger: Ledger,
) -> None:
    stayed = talk_attended("m-1", T0, 35)
    await ledger.deliver(stayed)
    await ledger.deliver(stayed)  # redelivered
    await ledger.deliver(talk_attended("m-2", T0, 9))  # dropped in and out
    more = [talk_attended("m-1", T0 + timedelta(hours=h), 60, f"tk-{h}") for h in (1, 2, 3)]
    await ledger.deliver_batch(*more)
    assert await credits(ledger, "m-1") == [("attended-talk", 5)] * 3  # 15 a day
    assert await credits(ledger, "m-2") == []
    await ledger.check_invariants()


def contest_awarded(member_id: str, at: datetime, place: int, points: int, **more: Any) -> Event:
    return _event(
        "contest.awarded",
        member_id,
        at,
        {
            "contest_id": "ct-1",
            "scope": "community",
            "metric": "checkins",
            "award_id": str(uuid.uuid4()),
            "place": place,
            "score": 10 - place,
            "points": points,
            "badge": None,
            "title": None,
            "awarded_at": at.isoformat(),
            **more,
        },
    )


async def test_a_contests_awarded_places_are_credited_once_and_badged(ledger: Ledger) -> None:
    first = contest_awarded("m-1", T0, 1, 500, badge="月度冠军")
    second = contest_awarded("m-2", T0, 2, 300)
    titled = contest_awarded("m-3", T0, 3, 0, title="第三名")  # a title only: no points
    await ledger.deliver_batch(first, second, titled)
    await ledger.deliver(first)  # redelivered
    await ledger.deliver(replace(first, id=str(uuid.uuid4())))  # republished: the same place
    assert await credits(ledger, "m-1") == [("contest-award", 500)]
    assert await credits(ledger, "m-2") == [("contest-award", 300)]
    assert await credits(ledger, "m-3") == []
    badged = await ledger.published("quanzi.rewards.badge.awarded.v1")
    # Only the place given a badge counts (500 points also reach level 5: another badge).
    assert [e.data["member_id"] for e in badged if e.data["badge_id"] == "contest-winner"] == [
        "m-1"
    ]
    await ledger.check_invariants()


def referral_tier(kind: str, member_id: str, at: datetime, grant: int, points: int) -> Event:
    stamp = "reached_at" if kind == "tier_reached" else "revoked_at"
    return _event(
        f"referral.{kind}",
        member_id,
        at,
        {
            "campaign_id": "rc-1",
            "tier": 0,
            "invites": 3,
            "points": points,
            "badge": None,
            "grant": grant,
            "tier_key": f"rc-1/{member_id}/0",
            "counted": 3 if kind == "tier_reached" else 2,
            stamp: at.isoformat(),
        },
    )


async def test_a_referral_tier_is_paid_then_taken_back_when_revoked(ledger: Ledger) -> None:
    reached = referral_tier("tier_reached", "m-1", T0, 1, 100)
    other = referral_tier("tier_reached", "m-2", T0, 1, 100)
    await ledger.deliver(reached, other)
    assert await credits(ledger, "m-1") == [("referral-tier", 100)]
    revoked = referral_tier("revoked", "m-1", T0 + timedelta(days=1), 2, 100)
    await ledger.deliver(revoked)
    await ledger.deliver(revoked)  # redelivered: nothing more
    balances = await ledger.balances("m-1")
    assert balances is not None and balances["available"] == 0
    assert [points for _, points in await credits(ledger, "m-1")] == [100, -100]
    # Granted again (the invites count again): paid again, and another member's grant of
    # the same tier was never touched.
    await ledger.deliver(referral_tier("tier_reached", "m-1", T0 + timedelta(days=2), 3, 100))
    again = await ledger.balances("m-1")
    assert again is not None and again["available"] == 100
    theirs = await ledger.balances("m-2")
    assert theirs is not None and theirs["available"] == 100
    await ledger.check_invariants()
