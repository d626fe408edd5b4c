"""Lucky draws through the API on both backends: the seed's hash before, one entry per
member under concurrency, eligibility by challenge, the draw by its timer once, the
winners recomputed from the revealed seed and the published entrants, claims and a
redraw of a lapsed prize."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from activities import app as activities_app
from activities.draws.domain import commitment, winners
from servicekit.consumer import apply_run
from servicekit.contracts import Registry
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.timers import TimerRunner

from .conftest import AC, T0, TENANT

DRAWN = "quanzi.activities.draw.drawn.v1"
WON = "quanzi.activities.draw.won.v1"
CLOSE = T0 + timedelta(days=2)


async def new_draw(api: Any, **body: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "周年抽奖",
        "prizes": [
            {"name": "100 积分", "kind": "points", "quantity": 3, "points": 100, "weight": 3},
            {"name": "签名书", "kind": "operator", "quantity": 1},
        ],
        "closes_at": CLOSE.isoformat(),
        **body,
    }
    answer = await api.client.post(f"{AC}/draws", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def enter(api: Any, draw_id: str, member: str) -> Any:
    return await api.client.post(f"{AC}/draws/{draw_id}/entries", headers=api.member(member))


async def test_commit_enter_draw_reveal_and_recompute(api: Any) -> None:
    people = [f"m-{i:02d}" for i in range(12)]
    for member in people:
        await api.seat(member)
    draw = await new_draw(api)
    assert draw["seed"] is None and len(draw["seed_hash"]) == 64
    # Ten entries of one member at once: one lands.
    answers = await asyncio.gather(*(enter(api, draw["id"], "m-00") for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [204] + [409] * 9
    for member in people[1:]:
        assert (await enter(api, draw["id"], member)).status_code == 204
    assert (await enter(api, draw["id"], "stranger")).status_code == 404
    before = await api.client.get(f"{AC}/draws/{draw['id']}/result", headers=api.member("m-01"))
    assert before.json()["entrants"] is None and before.json()["winners"] == []

    runner = TimerRunner(api.app.state.sessions, activities_app.TIMERS)
    assert await runner.fire_due(now=CLOSE - timedelta(seconds=1)) == 0
    assert await runner.fire_due(now=CLOSE) == 1
    assert await runner.fire_due(now=CLOSE + timedelta(days=1)) == 0
    api.at(CLOSE + timedelta(minutes=1))
    assert (await enter(api, draw["id"], "m-00")).status_code == 409  # closed

    body = (
        await api.client.get(f"{AC}/draws/{draw['id']}/result", headers=api.member("m-01"))
    ).json()
    seed, entrants = body["draw"]["seed"], body["entrants"]
    # The verification anyone can do: the seed matches the hash published before any
    # entry, and the winners follow from the seed and the published entrants.
    assert commitment(seed) == draw["seed_hash"] and entrants == people
    stock = [(p["quantity"], p["weight"]) for p in draw["prizes"]]
    expected = [(w.member_id, w.prize) for w in winners(seed, entrants, stock)]
    assert [(w["member_id"], w["prize"]) for w in body["winners"]] == expected
    assert len(expected) == 4

    [drawn] = await api.published(DRAWN)
    assert drawn.data["seed"] == seed and drawn.key == "c-1"
    assert drawn.data["entrants_sha256"] == hashlib.sha256("\n".join(people).encode()).hexdigest()
    won = await api.published(WON)
    assert sorted((e.data["member_id"], e.data["points"]) for e in won) == sorted(
        (member, 100 if prize == 0 else None) for member, prize in expected
    )
    assert all(e.key == e.data["member_id"] for e in won)


async def test_only_the_challenges_participants_enter(api: Any) -> None:
    for member in ("m-1", "m-2"):
        await api.seat(member)
    challenge = await api.challenge()
    assert (await api.check_in(challenge["id"], "m-1")).status_code == 201
    draw = await new_draw(api, challenge_id=challenge["id"])
    assert (await enter(api, draw["id"], "m-1")).status_code == 204
    refused = await enter(api, draw["id"], "m-2")
    assert refused.status_code == 403 and refused.json()["type"].endswith("not-eligible")
    other = await api.client.post(
        f"{AC}/draws",
        json={
            "community_id": "c-2",
            "title": "x",
            "challenge_id": challenge["id"],
            "prizes": [{"name": "x", "kind": "operator", "quantity": 1}],
            "closes_at": CLOSE.isoformat(),
        },
        headers=api.operator(),
    )
    assert other.status_code == 422


async def test_an_unclaimed_prize_is_redrawn_once_its_time_is_over(api: Any) -> None:
    people = [f"m-{i}" for i in range(6)]
    for member in people:
        await api.seat(member)
    draw = await new_draw(
        api, prizes=[{"name": "签名书", "kind": "operator", "quantity": 2}], claim_days=3
    )
    for member in people:
        assert (await enter(api, draw["id"], member)).status_code == 204
    api.at(T0 + timedelta(days=1))
    drawn = await api.client.post(f"{AC}/draws/{draw['id']}/draw", headers=api.operator())
    assert drawn.status_code == 200 and drawn.json()["seed"] is not None
    again = await api.client.post(f"{AC}/draws/{draw['id']}/draw", headers=api.operator())
    assert again.status_code == 409
    result = await api.client.get(f"{AC}/draws/{draw['id']}/result", headers=api.operator())
    first, second = (w["member_id"] for w in result.json()["winners"])
    claim = await api.client.post(f"{AC}/draws/{draw['id']}/claim", headers=api.member(first))
    assert claim.status_code == 200 and claim.json()["claimed_at"] is not None
    twice = await api.client.post(f"{AC}/draws/{draw['id']}/claim", headers=api.member(first))
    assert twice.status_code == 409
    loser = next(m for m in people if m not in (first, second))
    none = await api.client.post(f"{AC}/draws/{draw['id']}/claim", headers=api.member(loser))
    assert none.status_code == 409 and none.json()["type"].endswith("not-a-winner")
    early = await api.client.post(f"{AC}/draws/{draw['id']}/redraw", headers=api.operator())
    assert early.status_code == 409  # second may still claim

    api.at(T0 + timedelta(days=4))
    late = await api.client.post(f"{AC}/draws/{draw['id']}/claim", headers=api.member(second))
    assert late.status_code == 409 and late.json()["type"].endswith("claim-expired")
    redrawn = await api.client.post(f"{AC}/draws/{draw['id']}/redraw", headers=api.operator())
    assert redrawn.status_code == 200, redrawn.text
    wins = redrawn.json()["winners"]
    assert [w["round"] for w in wins] == [0, 0, 1]
    assert wins[1]["given_back_at"] is not None and wins[2]["member_id"] not in (first, second)
    rounds = [e.data["round"] for e in await api.published(DRAWN)]
    assert rounds == [0, 1]
    assert len(await api.published(WON)) == 3


def level_changed(member_id: str, level: int, minutes: int) -> Event:
    at = T0 + timedelta(minutes=minutes)
    return Event(
        type="quanzi.rewards.level.changed.v1",
        source="/rewards",
        tenant_id=TENANT,
        topic="rewards.points",
        key=member_id,
        time=at,
        data={
            "tenant_id": TENANT,
            "member_id": member_id,
            "previous_level": level - 1,
            "level": level,
            "name": f"Lv{level}",
            "direction": "up",
            "lifetime": 100 * level,
            "changed_at": at.isoformat(),
        },
    )


async def test_a_minimum_level_and_tiers_from_the_projection(api: Any) -> None:
    await api.seat("m-core")
    await api.seat("m-trial", tier="trial")
    await api.seat("m-low")
    handler = activities_app.LEVELS.handlers["quanzi.rewards.level.changed.v1"]
    # One run per event, then one run of several (the older and the newer of one member):
    # either way an older change never overwrites a newer one.
    runs = [
        [level_changed("m-core", 3, 10)],
        [level_changed("m-trial", 5, 10)],
        [level_changed("m-low", 3, 10)],
        [
            level_changed("m-low", 4, 5),  # older: ignored
            level_changed("m-low", 2, 20),  # newer: down to 2
            level_changed("m-low", 6, 15),  # older than the one before it: ignored
        ],
    ]
    for run in runs:
        for event in run:
            Registry.load().validate(event)
        async with transaction(api.app.state.sessions) as session:
            await apply_run(handler, session, run)
    draw = await new_draw(api, min_level=3, tiers=["core"])
    assert draw["min_level"] == 3 and draw["tiers"] == ["core"]
    assert (await enter(api, draw["id"], "m-core")).status_code == 204
    for member, why in (("m-trial", "tiers"), ("m-low", "level 3")):
        refused = await enter(api, draw["id"], member)
        assert refused.status_code == 403 and why in refused.json()["detail"], member
