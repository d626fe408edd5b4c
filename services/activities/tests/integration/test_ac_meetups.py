"""Meetups through the API on both backends: never more seats than capacity under
concurrent registrations and cancellations, the waitlist promoted in order with a
deadline (timers on the test clock), the lottery seeded and recomputable, reviews, and
one-time venue check-in codes."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from activities import app as activities_app
from activities.meetups import domain
from servicekit.timers import TimerRunner

from .conftest import AC, T0

CONFIRMED = "quanzi.activities.meetup.confirmed.v1"
PROMOTED = "quanzi.activities.meetup.promoted.v1"
CANCELLED = "quanzi.activities.meetup.cancelled.v1"
ATTENDED = "quanzi.activities.meetup.attended.v1"
REGISTERED = "quanzi.activities.meetup.registered.v1"


async def new_meetup(api: Any, **body: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "上海读书会线下见面",
        "city": "上海",
        "venue": "静安区某咖啡馆",
        "capacity": 2,
        "opens_at": T0.isoformat(),
        "closes_at": (T0 + timedelta(days=5)).isoformat(),
        "starts_at": (T0 + timedelta(days=6)).isoformat(),
        "ends_at": (T0 + timedelta(days=6, hours=3)).isoformat(),
        **body,
    }
    answer = await api.client.post(f"{AC}/meetups", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def url(meetup: dict[str, Any], tail: str = "") -> str:
    return f"{AC}/meetups/{meetup['id']}{tail}"


async def register(api: Any, meetup: dict[str, Any], member: str, **answers: str) -> Any:
    return await api.client.post(
        url(meetup, "/registrations"), json={"answers": answers}, headers=api.member(member)
    )


async def cancel(api: Any, meetup: dict[str, Any], member: str) -> Any:
    return await api.client.post(url(meetup, "/registration/cancel"), headers=api.member(member))


async def mine(api: Any, meetup: dict[str, Any], member: str) -> dict[str, Any]:
    answer = await api.client.get(url(meetup, "/registration"), headers=api.member(member))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def roster(api: Any, meetup: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await api.client.get(url(meetup, "/registrations"), headers=api.operator())
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def runner(api: Any) -> TimerRunner:
    return TimerRunner(api.app.state.sessions, activities_app.TIMERS)


async def test_100_registrations_and_10_cancellations_at_once_fill_20_seats_in_order(
    api: Any,
) -> None:
    members = [f"m-{i:03}" for i in range(100)]
    await api.deliver_batch(*(api.membership("activated", m) for m in members))
    meetup = await new_meetup(api, capacity=20)
    answers = await asyncio.gather(*(register(api, meetup, m) for m in members))
    assert all(a.status_code == 201 for a in answers)
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("confirmed") == 20 and statuses.count("waitlisted") == 80
    seated = [a.json()["member_id"] for a in answers if a.json()["status"] == "confirmed"]
    waiting = sorted(
        (a.json() for a in answers if a.json()["status"] == "waitlisted"),
        key=lambda r: r["waitlist_position"],
    )
    # Ten confirmed members cancel at once: the ten at the head of the waitlist get offers.
    cancelled = await asyncio.gather(*(cancel(api, meetup, m) for m in seated[:10]))
    assert all(c.status_code == 200 for c in cancelled), [c.text for c in cancelled]
    rows = await roster(api, meetup)
    holding = [r for r in rows if r["status"] in ("confirmed", "offered")]
    assert len(holding) == 20
    offered = {r["member_id"] for r in rows if r["status"] == "offered"}
    assert offered == {r["member_id"] for r in waiting[:10]}
    detail = await api.client.get(url(meetup), headers=api.operator())
    assert detail.json()["seats_taken"] == 20
    promoted = await api.published(PROMOTED)
    assert [e.data["member_id"] for e in promoted] == [r["member_id"] for r in waiting[:10]]
    # More registrations and cancellations of the waitlisted at once change nothing held.
    late = await asyncio.gather(
        *(cancel(api, meetup, r["member_id"]) for r in waiting[10:20]),
        *(register(api, meetup, m) for m in members[:5]),  # already registered: 409
    )
    assert sorted(a.status_code for a in late) == [200] * 10 + [409] * 5
    assert (
        len([r for r in await roster(api, meetup) if r["status"] in ("confirmed", "offered")]) == 20
    )


async def test_an_offer_lapses_at_its_deadline_and_passes_on(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3", "m-4"):
        await api.seat(member)
    meetup = await new_meetup(api, capacity=1, cost_points=30, confirm_hours=12)
    assert (await register(api, meetup, "m-1")).json()["status"] == "confirmed"
    assert (await register(api, meetup, "m-2")).json()["waitlist_position"] == 2
    assert (await register(api, meetup, "m-3")).json()["waitlist_position"] == 3
    api.at(T0 + timedelta(hours=1))
    gone = await cancel(api, meetup, "m-1")
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    offer = await mine(api, meetup, "m-2")
    assert offer["status"] == "offered"
    assert offer["confirm_by"].startswith("2026-12-01T13:00:00")
    # m-2 lets the offer lapse: at the deadline it passes to m-3, once.
    assert await runner(api).fire_due(now=T0 + timedelta(hours=12)) == 0
    assert await runner(api).fire_due(now=T0 + timedelta(hours=13)) == 1
    assert await runner(api).fire_due(now=T0 + timedelta(hours=14)) == 0
    assert (await mine(api, meetup, "m-2"))["status"] == "lapsed"
    assert (await mine(api, meetup, "m-3"))["status"] == "offered"
    api.at(T0 + timedelta(hours=14))
    late = await api.client.post(url(meetup, "/registration/confirm"), headers=api.member("m-2"))
    assert late.status_code == 409 and late.json()["type"].endswith("no-offer")
    took = await api.client.post(url(meetup, "/registration/confirm"), headers=api.member("m-3"))
    assert took.status_code == 200 and took.json()["status"] == "confirmed"
    assert took.json()["checkin_code"]
    assert await runner(api).fire_due(now=T0 + timedelta(days=1, hours=2)) == 0  # cancelled
    # Points: m-1 paid 30 and got 30 back; m-3 pays 30 on confirming; m-2 paid nothing.
    confirmed = [
        (e.data["member_id"], e.data["cost_points"]) for e in await api.published(CONFIRMED)
    ]
    assert confirmed == [("m-1", 30), ("m-3", 30)]
    refunds = {e.data["member_id"]: e.data["refund_points"] for e in await api.published(CANCELLED)}
    assert refunds == {"m-1": 30, "m-2": 0}
    # A fourth registers while the seat is held: waitlisted, nothing freed.
    api.at(T0 + timedelta(hours=15))
    assert (await register(api, meetup, "m-4")).json()["status"] == "waitlisted"


async def test_the_lottery_draws_once_at_the_close_and_can_be_recomputed(api: Any) -> None:
    members = [f"m-{i}" for i in range(6)]
    for member in [*members, "m-9"]:
        await api.seat(member)
    meetup = await new_meetup(api, capacity=2, selection="lottery")
    assert meetup["seed"] is None and len(meetup["seed_hash"]) == 64
    ids = {}
    for member in members:
        answer = await register(api, meetup, member)
        assert answer.json()["status"] == "applied"
        ids[answer.json()["id"]] = member
    gone = await cancel(api, meetup, "m-5")  # an applicant may withdraw before the draw
    assert gone.status_code == 200
    del ids[gone.json()["id"]]
    close = T0 + timedelta(days=5)
    api.at(close)
    assert (await register(api, meetup, "m-9")).json()["type"].endswith("registration-closed")
    assert await runner(api).fire_due(now=close) == 1
    assert await runner(api).fire_due(now=close + timedelta(hours=1)) == 0
    drawn = (await api.client.get(url(meetup), headers=api.member("m-0"))).json()
    seed = drawn["seed"]
    assert hashlib.sha256(seed.encode()).hexdigest() == meetup["seed_hash"]
    winners, rest = domain.draw(seed, list(ids), 2)
    rows = {r["id"]: r for r in await roster(api, meetup)}
    assert [rows[r]["status"] for r in winners] == ["confirmed", "confirmed"]
    assert [rows[r]["waitlist_position"] for r in rest] == [1, 2, 3]
    assert all(rows[r]["ticket"] == domain.ticket(seed, r) for r in ids)
    assert len(await api.published(CONFIRMED)) == 2
    # A winner cancels: the first of the rest is offered the seat.
    await cancel(api, meetup, ids[winners[0]])
    assert (await mine(api, meetup, ids[rest[0]]))["status"] == "offered"


async def test_review_approves_while_seats_last_and_rejects(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    meetup = await new_meetup(
        api,
        capacity=1,
        selection="review",
        questions=[
            {"prompt": "为什么想参加?"},
            {"prompt": "饮食", "required": False, "options": ["素食", "不限"]},
        ],
    )
    missing = await register(api, meetup, "m-1")
    assert missing.status_code == 422 and missing.json()["type"].endswith("invalid-answers")
    assert (
        await register(api, meetup, "m-1", **{"0": "认识同城书友", "1": "火锅"})
    ).status_code == 422
    first = (await register(api, meetup, "m-1", **{"0": "认识同城书友", "1": "素食"})).json()
    second = (await register(api, meetup, "m-2", **{"0": "学习"})).json()
    third = (await register(api, meetup, "m-3", **{"0": "好奇"})).json()
    assert first["answers"] == {"0": "认识同城书友", "1": "素食"}

    async def decide(registration: dict[str, Any], decision: str) -> Any:
        return await api.client.post(
            url(meetup, f"/registrations/{registration['id']}/review"),
            json={"decision": decision},
            headers=api.operator(),
        )

    assert (await decide(first, "approve")).json()["status"] == "confirmed"
    full = await decide(second, "approve")
    assert full.status_code == 409 and full.json()["type"].endswith("meetup-full")
    assert (await decide(second, "reject")).json()["status"] == "rejected"
    assert (await decide(second, "approve")).status_code == 409  # reviewed already
    await cancel(api, meetup, "m-1")  # the seat comes back: the operator may approve m-3
    assert (await decide(third, "approve")).json()["status"] == "confirmed"
    member_view = await api.client.get(url(meetup, "/registrations"), headers=api.member("m-1"))
    assert member_view.status_code == 403


async def test_a_checkin_code_works_once_and_cannot_be_forged(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    meetup = await new_meetup(api, capacity=2)
    other = await new_meetup(api, capacity=2)
    await register(api, meetup, "m-1")
    await register(api, meetup, "m-2")
    await register(api, other, "m-1")
    code = (await mine(api, meetup, "m-1"))["checkin_code"]
    other_code = (await mine(api, other, "m-1"))["checkin_code"]
    api.at(T0 + timedelta(days=6, minutes=5))

    async def scan(value: str) -> Any:
        return await api.client.post(
            url(meetup, "/checkins"), json={"code": value}, headers=api.operator()
        )

    number, mac = code.split("-")
    forged = [f"{int(number) + 1}-{mac}", f"{number}-{'A' * len(mac)}", other_code, "hello"]
    for value in forged:
        answer = await scan(value)
        assert answer.status_code == 422 and answer.json()["type"].endswith("invalid-code"), value
    scans = await asyncio.gather(*(scan(code) for _ in range(5)))
    assert sorted(s.status_code for s in scans) == [200] + [409] * 4
    assert (await scan(code.lower())).json()["type"].endswith("code-used")
    [attended] = await api.published(ATTENDED)
    assert attended.data["member_id"] == "m-1" and attended.data["city"] == "上海"
    by_member = await api.client.post(
        url(meetup, "/checkins"), json={"code": code}, headers=api.member("m-1")
    )
    assert by_member.status_code == 403
    # At the end m-2, confirmed and never scanned, is a no-show, once.
    end = T0 + timedelta(days=6, hours=3)
    assert await runner(api).fire_due(now=end) == 2  # both meetups end
    statuses = {r["member_id"]: r["status"] for r in await roster(api, meetup)}
    assert statuses == {"m-1": "attended", "m-2": "no_show"}


async def test_windows_membership_and_settings(api: Any) -> None:
    await api.seat("m-1")
    meetup = await new_meetup(api, opens_at=(T0 + timedelta(days=1)).isoformat())
    early = await register(api, meetup, "m-1")
    assert early.status_code == 409 and early.json()["type"].endswith("registration-not-open")
    assert (await register(api, meetup, "stranger")).status_code == 404
    listed = await api.client.get(f"{AC}/meetups", headers=api.member("stranger"))
    assert listed.json() == []
    api.at(T0 + timedelta(days=1))
    assert (await register(api, meetup, "m-1")).status_code == 201
    assert (await register(api, meetup, "m-1")).json()["type"].endswith("already-registered")
    api.at(T0 + timedelta(days=6, minutes=1))
    started = await cancel(api, meetup, "m-1")
    assert started.status_code == 409 and started.json()["type"].endswith("meetup-started")
    bad = await api.client.post(
        f"{AC}/meetups",
        json={
            "community_id": "c-1",
            "title": "x",
            "city": "北京",
            "venue": "x",
            "capacity": 5,
            "opens_at": T0.isoformat(),
            "closes_at": (T0 + timedelta(days=8)).isoformat(),
            "starts_at": (T0 + timedelta(days=7)).isoformat(),
            "ends_at": (T0 + timedelta(days=9)).isoformat(),
        },
        headers=api.operator(),
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-meetup")
    registered = await api.published(REGISTERED)
    assert [e.data["status"] for e in registered] == ["confirmed"]
