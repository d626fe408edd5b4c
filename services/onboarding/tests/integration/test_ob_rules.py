"""Rules (群规): versions, acceptance at every way in, re-acceptance with a grace period."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from onboarding.moderation.sanctions import MUTE_END_TIMER, end_mute
from onboarding.rules import service as rules
from onboarding.rules.service import GRACE_TIMER, end_grace
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
PUBLISHED = "quanzi.onboarding.rules.published.v1"
ACCEPTED = "quanzi.onboarding.rules.accepted.v1"
MUTED = "quanzi.onboarding.membership.muted.v1"
UNMUTED = "quanzi.onboarding.membership.unmuted.v1"


async def publish(
    onboarding: Onboarding, community_id: str, text: str = "友善交流，禁止广告", **extra: Any
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/rules",
        json={"text": text, **extra},
        headers=onboarding.operator(),
    )


async def join(
    onboarding: Onboarding, community_id: str, member: str, version: int | None = None
) -> httpx.Response:
    body = {"accepted_rules_version": version} if version is not None else None
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/join", json=body, headers=onboarding.member(member)
    )


async def accept(
    onboarding: Onboarding, community_id: str, member: str, version: int
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/rules/accept",
        json={"version": version},
        headers=onboarding.member(member),
    )


async def status_of(onboarding: Onboarding, member: str) -> list[str]:
    mine = await onboarding.client.get(f"{BASE}/me/memberships", headers=onboarding.member(member))
    return [m["status"] for m in mine.json()["items"]]


def runner(onboarding: Onboarding) -> TimerRunner:
    return TimerRunner(onboarding.sessions, {GRACE_TIMER: end_grace, MUTE_END_TIMER: end_mute})


async def fire_all(onboarding: Onboarding, after: timedelta) -> None:
    timers = runner(onboarding)
    while await timers.fire_due(now=utcnow() + after):
        pass


def rejected_for_rules(answer: httpx.Response, current: int) -> bool:
    body = answer.json()
    return (
        answer.status_code == 409
        and answer.headers["content-type"] == "application/problem+json"
        and body["type"].endswith("/rules-not-accepted")
        and body["current_version"] == current
    )


async def test_joining_needs_the_current_rules(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    assert (await join(onboarding, cid, "before")).status_code == 201  # no rules: nothing needed
    published = await publish(onboarding, cid, summary="第一版")
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1
    seen = await onboarding.client.get(f"{BASE}/communities/{cid}", headers=onboarding.member("x"))
    assert seen.json()["rules_version"] == 1
    assert rejected_for_rules(await join(onboarding, cid, "m1"), 1)
    assert (await publish(onboarding, cid, summary="第二版")).json()["version"] == 2
    assert rejected_for_rules(await join(onboarding, cid, "m1", 1), 2)  # a stale version
    joined = await join(onboarding, cid, "m1", 2)
    assert joined.status_code == 201 and joined.json()["status"] == "active"
    [accepted] = await onboarding.events(ACCEPTED)
    assert accepted.data["version"] == 2 and accepted.key == "m1"
    assert [e.data["version"] for e in await onboarding.events(PUBLISHED)] == [1, 2]
    again = await join(onboarding, cid, "m1")  # already in: a no-op needs nothing
    assert again.status_code == 200
    current = await onboarding.client.get(
        f"{BASE}/communities/{cid}/rules", headers=onboarding.member("m1")
    )
    assert current.json()["version"] == 2 and current.json()["summary"] == "第二版"


async def test_every_way_in_checks_the_rules(onboarding: Onboarding) -> None:
    paid = await onboarding.paid_community()
    group = await onboarding.client.post(
        f"{BASE}/communities/{paid['id']}/groups",
        json={"name": "1群", "capacity": 10},
        headers=onboarding.operator(),
    )
    code = await onboarding.client.post(
        f"{BASE}/routing-codes",
        json={
            "community_id": paid["id"],
            "code": "QR-1",
            "group_ids": [group.json()["id"]],
            "overflow_prefix": "溢出",
        },
        headers=onboarding.operator(),
    )
    assert code.status_code == 201
    invite = await onboarding.client.post(
        f"{BASE}/invites",
        json={"community_id": paid["id"], "code": "INV-1"},
        headers=onboarding.operator(),
    )
    assert invite.status_code == 201
    await publish(onboarding, paid["id"])
    by_code = f"{BASE}/routing-codes/QR-1/join"
    by_invite = f"{BASE}/invites/INV-1/redeem"
    for url in (by_code, by_invite):
        refused = await onboarding.client.post(url, headers=onboarding.member("m-" + url[-6:]))
        assert rejected_for_rules(refused, 1), url
    assert rejected_for_rules(await onboarding.pay(paid["id"], "payer", "p1"), 1)
    paid_in = await onboarding.pay(paid["id"], "payer", "p1", accepted_rules_version=1)
    assert paid_in.status_code == 201, paid_in.text
    for url, member in ((by_code, "coder"), (by_invite, "invited")):
        answer = await onboarding.client.post(
            url, json={"accepted_rules_version": 1}, headers=onboarding.member(member)
        )
        assert answer.status_code == 201, answer.text
    form = {"fields": [{"key": "why", "label": "为什么", "kind": "text"}]}
    applying = await onboarding.community(slug="apply-club", application_form=form)
    await publish(onboarding, applying["id"])
    url = f"{BASE}/communities/{applying['id']}/applications"
    refused = await onboarding.client.post(
        url, json={"answers": {"why": "学习"}}, headers=onboarding.member("app")
    )
    assert rejected_for_rules(refused, 1)
    applied = await onboarding.client.post(
        url,
        json={"answers": {"why": "学习"}, "accepted_rules_version": 1},
        headers=onboarding.member("app"),
    )
    assert applied.status_code == 201, applied.text
    assert len(await onboarding.events(ACCEPTED)) == 4


async def test_rules_published_while_waiting_for_payment_are_owed_on_arrival(
    onboarding: Onboarding,
) -> None:
    """Entered before the rules existed (waiting to pay): paying seats them muted for rules
    until they accept the version in force, which unmutes them."""
    cid = (await onboarding.paid_community())["id"]
    assert (await join(onboarding, cid, "payer")).json()["status"] == "pending_payment"
    assert (await publish(onboarding, cid)).status_code == 201
    paid = await onboarding.pay(cid, "payer", "ref-rules")
    assert paid.status_code == 201, paid.text
    assert paid.json()["membership"]["status"] == "muted"
    [muted] = await onboarding.events(MUTED)
    assert muted.data["cause"] == "rules"
    assert (await accept(onboarding, cid, "payer", 1)).status_code == 200
    assert await status_of(onboarding, "payer") == ["active"]


async def test_grace_period_mutes_then_accepting_unmutes(onboarding: Onboarding) -> None:
    paid = await onboarding.paid_community(trial_days=7)
    cid = paid["id"]
    for member in ("keen", "late", "trialist"):
        await join(onboarding, cid, member)
    await onboarding.pay(cid, "keen", "p1")
    await onboarding.pay(cid, "late", "p2")
    assert (await publish(onboarding, cid, grace_days=7)).status_code == 201
    assert (await accept(onboarding, cid, "keen", 1)).status_code == 200
    pending = await onboarding.client.get(f"{BASE}/me/rules", headers=onboarding.member("late"))
    assert [(p["version"], p["muted"]) for p in pending.json()] == [(1, False)]
    await fire_all(onboarding, timedelta(days=1))  # inside the grace period: nothing
    assert await onboarding.events(MUTED) == []
    await fire_all(onboarding, timedelta(days=8))
    assert await status_of(onboarding, "keen") == ["active"]
    assert await status_of(onboarding, "late") == ["muted"]
    assert await status_of(onboarding, "trialist") == ["muted"]
    muted = await onboarding.events(MUTED)
    assert sorted(e.key for e in muted) == ["late", "trialist"]
    assert {e.data["cause"] for e in muted} == {"rules"}
    pending = await onboarding.client.get(f"{BASE}/me/rules", headers=onboarding.member("late"))
    assert [(p["version"], p["muted"]) for p in pending.json()] == [(1, True)]
    stale = await accept(onboarding, cid, "late", 2)
    assert stale.status_code == 409 and stale.json()["current_version"] == 1
    accepted = await accept(onboarding, cid, "late", 1)
    assert accepted.json()["membership"]["status"] == "active"
    trial = await accept(onboarding, cid, "trialist", 1)
    assert trial.json()["membership"]["status"] == "trial"  # back to the tier's status
    assert [e.data["status"] for e in await onboarding.events(UNMUTED)] == ["active", "trial"]
    await onboarding.client.post(  # the timer firing again (re-armed) mutes nobody twice
        f"{BASE}/communities/{cid}/rules/accept",
        json={"version": 1},
        headers=onboarding.member("late"),
    )
    await fire_all(onboarding, timedelta(days=9))
    assert len(await onboarding.events(MUTED)) == 2
    assert (
        await onboarding.client.get(f"{BASE}/me/rules", headers=onboarding.member("late"))
    ).json() == []
    audit = await onboarding.client.get(
        f"{BASE}/audit", params={"action": "membership.rules_muted"}, headers=onboarding.operator()
    )
    assert {r["actor_kind"] for r in audit.json()["items"]} == {"system"}
    assert len(audit.json()["items"]) == 2


async def test_a_newer_version_supersedes_the_grace_period(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "a")
    await publish(onboarding, cid, grace_days=1)
    await accept(onboarding, cid, "a", 1)
    await publish(onboarding, cid, grace_days=7, summary="v2")
    await fire_all(onboarding, timedelta(days=2))  # v1's end passed, but v2 superseded it
    assert await status_of(onboarding, "a") == ["active"]
    await fire_all(onboarding, timedelta(days=8))
    assert await status_of(onboarding, "a") == ["muted"]
    # Leaving and joining again with the current version ends the rules mute.
    left = await onboarding.client.post(
        f"{BASE}/communities/{cid}/leave", headers=onboarding.member("a")
    )
    assert left.json()["status"] == "left"
    assert (await join(onboarding, cid, "a", 2)).json()["status"] == "active"


async def test_grace_end_works_in_chunks(
    onboarding: Onboarding, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "GRACE_CHUNK", 2)
    community = await onboarding.community()
    cid = community["id"]
    for number in range(5):
        await join(onboarding, cid, f"m{number}")
    await publish(onboarding, cid, grace_days=0)
    timers = runner(onboarding)
    rounds = 0
    while await timers.fire_due(now=utcnow() + timedelta(seconds=1)):
        rounds += 1
    assert rounds == 3  # 2 + 2 + 1 members, one short transaction each
    assert len(await onboarding.events(MUTED)) == 5


async def test_a_sanction_mute_outlives_accepting_the_rules(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "m")
    await publish(onboarding, cid, grace_days=0)
    await fire_all(onboarding, timedelta(seconds=1))
    sanction = await onboarding.client.post(
        f"{BASE}/communities/{cid}/sanctions",
        json={"member_id": "m", "kind": "mute", "duration_hours": 24, "reason": "刷屏"},
        headers=onboarding.operator(),
    )
    assert sanction.status_code == 201, sanction.text
    accepted = await accept(onboarding, cid, "m", 1)
    assert accepted.json()["membership"]["status"] == "muted"  # the sanction still runs
    await fire_all(onboarding, timedelta(days=2))
    assert await status_of(onboarding, "m") == ["active"]


async def test_rules_input_and_access(onboarding: Onboarding) -> None:
    community = await onboarding.community(visibility="private")
    cid = community["id"]
    url = f"{BASE}/communities/{cid}/rules"
    missing = await onboarding.client.get(url, headers=onboarding.operator())
    assert missing.status_code == 404
    for body in ({}, {"text": ""}, {"text": "x", "grace_days": -1}, {"text": "x", "extra": 1}):
        bad = await onboarding.client.post(url, json=body, headers=onboarding.operator())
        assert bad.status_code == 422, body
        assert bad.headers["content-type"] == "application/problem+json"
    as_member = await onboarding.client.post(
        url, json={"text": "x"}, headers=onboarding.member("m")
    )
    assert as_member.status_code == 403
    other = await onboarding.client.post(
        url, json={"text": "x"}, headers=onboarding.operator("tenant-b")
    )
    assert other.status_code == 404
    await publish(onboarding, cid)
    hidden = await onboarding.client.get(url, headers=onboarding.member("stranger"))
    assert hidden.status_code == 404  # a private community's rules are for its members
    not_member = await accept(onboarding, cid, "stranger", 1)
    assert not_member.status_code == 404
    bad_version = await onboarding.client.post(
        f"{url}/accept", json={"version": 0}, headers=onboarding.member("m")
    )
    assert bad_version.status_code == 422
    for number in range(2, 4):
        await publish(onboarding, cid, text=f"第{number}版")
    first = await onboarding.client.get(
        f"{url}/versions", params={"limit": 2}, headers=onboarding.operator()
    )
    assert [r["version"] for r in first.json()["items"]] == [1, 2]
    rest = await onboarding.client.get(
        f"{url}/versions",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=onboarding.operator(),
    )
    assert [r["version"] for r in rest.json()["items"]] == [3]
    assert rest.json()["next_cursor"] is None
    audit = await onboarding.client.get(
        f"{BASE}/audit", params={"action": "rules.published"}, headers=onboarding.operator()
    )
    assert len(audit.json()["items"]) == 3
