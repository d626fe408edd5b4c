"""Moderation: the ladder with decay, mutes ending by timer, removal and bans (tenant-wide
too), appeals restoring state, the report queue, the audit trail, and access rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import update

from onboarding.moderation.sanctions import MUTE_END_TIMER, end_mute
from onboarding.orm import Sanction
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
ISSUED = "quanzi.onboarding.sanction.issued.v1"
LIFTED = "quanzi.onboarding.sanction.lifted.v1"
BANNED = "quanzi.onboarding.membership.banned.v1"
REMOVED = "quanzi.onboarding.membership.removed.v1"
REINSTATED = "quanzi.onboarding.membership.reinstated.v1"
MUTED = "quanzi.onboarding.membership.muted.v1"
UNMUTED = "quanzi.onboarding.membership.unmuted.v1"
FILED = "quanzi.onboarding.report.filed.v1"
DECIDED = "quanzi.onboarding.appeal.decided.v1"


async def sanction(
    onboarding: Onboarding,
    community_id: str,
    member: str,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    return await sanction_body(
        onboarding, community_id, {"member_id": member, "reason": "违反群规", **fields}, headers
    )


async def sanction_body(
    onboarding: Onboarding,
    community_id: str,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/sanctions",
        json=body,
        headers=headers or onboarding.operator(roles=("operator",)),
    )


def ends(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def join(onboarding: Onboarding, community_id: str, member: str) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/join", headers=onboarding.member(member)
    )


async def membership(onboarding: Onboarding, member: str, community_id: str) -> dict[str, Any]:
    mine = await onboarding.client.get(f"{BASE}/me/memberships", headers=onboarding.member(member))
    [found] = [m for m in mine.json()["items"] if m["community_id"] == community_id]
    return dict(found)


async def appeal(onboarding: Onboarding, sanction_id: str, member: str) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/sanctions/{sanction_id}/appeals",
        json={"text": "我发的是活动通知，不是广告"},
        headers=onboarding.member(member),
    )


async def decide(onboarding: Onboarding, appeal_id: str, decision: str) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/appeals/{appeal_id}/decide",
        json={"decision": decision, "reason": "复核"},
        headers=onboarding.operator(),
    )


async def report(
    onboarding: Onboarding, community_id: str, reporter: str, target: str, **fields: Any
) -> httpx.Response:
    body = {"target_kind": "member", "target_id": target, "category": "spam", **fields}
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/reports", json=body, headers=onboarding.member(reporter)
    )


async def audit_actions(onboarding: Onboarding, prefix: str) -> list[str]:
    found = await onboarding.client.get(
        f"{BASE}/audit", params={"action": prefix, "limit": 200}, headers=onboarding.operator()
    )
    return sorted(record["action"] for record in found.json()["items"])


async def test_the_ladder_escalates_and_strikes_decay(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    url = f"{BASE}/communities/{cid}/moderation-ladder"
    default = await onboarding.client.get(url, headers=onboarding.operator())
    assert default.json()["default"] is True
    assert [s["kind"] for s in default.json()["steps"]] == [
        "warning",
        "mute",
        "mute",
        "mute",
        "ban",
    ]
    ladder = {
        "steps": [
            {"kind": "warning"},
            {"kind": "mute", "duration_hours": 1},
            {"kind": "removal"},
            {"kind": "ban"},
        ],
        "strike_decay_days": 30,
    }
    assert (
        await onboarding.client.put(url, json=ladder, headers=onboarding.operator())
    ).status_code == 200
    for member in ("m", "old"):
        await join(onboarding, cid, member)
    kinds = []
    for _ in range(3):
        issued = await sanction(onboarding, cid, "m")
        assert issued.status_code == 201, issued.text
        kinds.append((issued.json()["kind"], issued.json()["step"]))
        last_id = issued.json()["id"]
    assert kinds == [("warning", 0), ("mute", 1), ("removal", 2)]
    assert (await membership(onboarding, "m", cid))["status"] == "removed"
    # Decay: an old member's strikes from 40 days ago no longer count.
    for _ in range(2):
        await sanction(onboarding, cid, "old")
    async with onboarding.sessions() as session, session.begin():
        await session.execute(
            update(Sanction)
            .where(Sanction.member_id == "old")
            .values(created_at=utcnow() - timedelta(days=40))
        )
    again = await sanction(onboarding, cid, "old")
    assert (again.json()["kind"], again.json()["step"]) == ("warning", 0)
    issued = await onboarding.events(ISSUED)
    assert [e.data["kind"] for e in issued if e.key == "m"] == ["warning", "mute", "removal"]
    [removed] = await onboarding.events(REMOVED)
    assert removed.key == "m" and removed.data["sanction_id"] == last_id
    assert removed.data["tier"] == "core"  # an open community's member: points kept
    assert await audit_actions(onboarding, "ladder.") == ["ladder.updated"]
    assert await audit_actions(onboarding, "sanction.") == ["sanction.issued"] * 6
    bad = {"steps": [{"kind": "mute"}], "strike_decay_days": 30}
    refused = await onboarding.client.put(url, json=bad, headers=onboarding.operator())
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_mute_ends_by_timer(onboarding: Onboarding) -> None:
    paid = await onboarding.paid_community(trial_days=7)
    cid = paid["id"]
    await join(onboarding, cid, "t")  # a trial member
    issued = await sanction(onboarding, cid, "t", kind="mute", duration_hours=2)
    assert issued.status_code == 201, issued.text
    assert (await membership(onboarding, "t", cid))["status"] == "muted"
    [muted] = await onboarding.events(MUTED)
    assert muted.data["cause"] == "sanction" and ends(muted.data["muted_until"]) == ends(
        issued.json()["ends_at"]
    )
    runner = TimerRunner(onboarding.sessions, {MUTE_END_TIMER: end_mute})
    assert await runner.fire_due(now=utcnow() + timedelta(hours=1)) == 0
    assert await runner.fire_due(now=utcnow() + timedelta(hours=3)) == 1
    assert (await membership(onboarding, "t", cid))["status"] == "trial"
    [lifted] = await onboarding.events(LIFTED)
    assert lifted.data["cause"] == "expired" and lifted.data["lifted_by"] == "system"
    [unmuted] = await onboarding.events(UNMUTED)
    assert unmuted.data["status"] == "trial" and unmuted.data["cause"] == "mute_ended"
    found = await onboarding.client.get(
        f"{BASE}/sanctions/{issued.json()['id']}", headers=onboarding.operator()
    )
    assert found.json()["status"] == "expired"
    assert await audit_actions(onboarding, "sanction.") == ["sanction.expired", "sanction.issued"]
    # A longer mute keeps the member muted when a shorter one ends; a lift ends it early.
    long = await sanction(onboarding, cid, "t", kind="mute", duration_hours=48)
    await sanction(onboarding, cid, "t", kind="mute", duration_hours=1)
    await runner.fire_due(now=utcnow() + timedelta(hours=2))
    assert (await membership(onboarding, "t", cid))["status"] == "muted"
    lift = await onboarding.client.post(
        f"{BASE}/sanctions/{long.json()['id']}/lift",
        json={"reason": "已道歉"},
        headers=onboarding.operator(),
    )
    assert lift.status_code == 200 and lift.json()["status"] == "lifted"
    assert (await membership(onboarding, "t", cid))["status"] == "trial"
    again = await onboarding.client.post(
        f"{BASE}/sanctions/{long.json()['id']}/lift",
        json={"reason": "x"},
        headers=onboarding.operator(),
    )
    assert again.status_code == 409


async def test_tenant_wide_ban_blocks_joins_everywhere(onboarding: Onboarding) -> None:
    first = await onboarding.community(slug="club-a")
    second = await onboarding.community(slug="club-b")
    third = await onboarding.community(slug="club-c")
    for community in (first, second):
        await join(onboarding, community["id"], "spammer")
    as_operator = await sanction(
        onboarding, first["id"], "spammer", kind="ban", tenant_wide=True, headers=None
    )
    assert as_operator.status_code == 201, as_operator.text
    banned = await onboarding.events(BANNED)
    assert sorted(e.data["community_id"] for e in banned) == sorted([first["id"], second["id"]])
    assert all(e.data["tenant_wide"] for e in banned)
    assert {e.data["tier"] for e in banned} == {"core"}
    refused = await join(onboarding, third["id"], "spammer")
    assert refused.status_code == 403 and refused.json()["type"].endswith("/banned")
    assert (await join(onboarding, first["id"], "spammer")).status_code == 403
    lifted = await onboarding.client.post(
        f"{BASE}/sanctions/{as_operator.json()['id']}/lift",
        json={"reason": "解封"},
        headers=onboarding.operator(),
    )
    assert lifted.status_code == 200, lifted.text
    assert (await membership(onboarding, "spammer", first["id"]))["status"] == "left"
    assert (await join(onboarding, third["id"], "spammer")).status_code == 201
    assert (await join(onboarding, first["id"], "spammer")).status_code == 201
    assert {e.data["cause"] for e in await onboarding.events(REINSTATED)} == {"lifted"}


async def test_an_overturned_appeal_restores_the_membership(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    group = await onboarding.client.post(
        f"{BASE}/communities/{cid}/groups",
        json={"name": "1群", "capacity": 5},
        headers=onboarding.operator(),
    )
    await onboarding.client.post(
        f"{BASE}/routing-codes",
        json={
            "community_id": cid,
            "code": "QR-9",
            "group_ids": [group.json()["id"]],
            "overflow_prefix": "溢",
        },
        headers=onboarding.operator(),
    )
    joined = await onboarding.client.post(
        f"{BASE}/routing-codes/QR-9/join", headers=onboarding.member("m")
    )
    assert joined.json()["group_id"] == group.json()["id"]
    ban = await sanction(onboarding, cid, "m", kind="ban")
    assert ban.status_code == 201
    banned = await membership(onboarding, "m", cid)
    assert banned["status"] == "banned" and banned["group_id"] is None
    assert (await sanction(onboarding, cid, "m", kind="ban")).status_code == 409
    not_mine = await appeal(onboarding, ban.json()["id"], "someone-else")
    assert not_mine.status_code == 404
    filed = await appeal(onboarding, ban.json()["id"], "m")
    assert filed.status_code == 201, filed.text
    second = await appeal(onboarding, ban.json()["id"], "m")
    assert second.status_code == 409 and second.json()["type"].endswith("/appeal-exists")
    queue = await onboarding.client.get(
        f"{BASE}/appeals", params={"status": "pending"}, headers=onboarding.operator()
    )
    assert [a["id"] for a in queue.json()["items"]] == [filed.json()["id"]]
    decided = await decide(onboarding, filed.json()["id"], "overturn")
    assert decided.status_code == 200 and decided.json()["status"] == "overturned"
    restored = await membership(onboarding, "m", cid)
    assert restored["status"] == "active" and restored["group_id"] == group.json()["id"]
    assert (await decide(onboarding, filed.json()["id"], "uphold")).status_code == 409
    [reinstated] = await onboarding.events(REINSTATED)
    assert reinstated.data["from_status"] == "banned" and reinstated.data["cause"] == "overturned"
    [decided_event] = await onboarding.events(DECIDED)
    assert decided_event.data["outcome"] == "overturned"
    [lifted] = await onboarding.events(LIFTED)
    assert lifted.data["cause"] == "overturned"
    # The overturned ban is no strike: the ladder starts at a warning.
    assert (await sanction(onboarding, cid, "m")).json()["kind"] == "warning"
    assert await audit_actions(onboarding, "appeal.") == ["appeal.overturned"]


async def test_overturning_a_mute_and_upholding_a_removal(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "m")
    mute = await sanction(onboarding, cid, "m", kind="mute", duration_hours=24)
    filed = await appeal(onboarding, mute.json()["id"], "m")
    await decide(onboarding, filed.json()["id"], "overturn")
    assert (await membership(onboarding, "m", cid))["status"] == "active"
    assert [e.data["cause"] for e in await onboarding.events(UNMUTED)] == ["overturned"]
    removal = await sanction(onboarding, cid, "m", kind="removal")
    filed = await appeal(onboarding, removal.json()["id"], "m")
    upheld = await decide(onboarding, filed.json()["id"], "uphold")
    assert upheld.json()["status"] == "upheld"
    assert (await membership(onboarding, "m", cid))["status"] == "removed"
    assert (await join(onboarding, cid, "m")).status_code == 201  # removed, not banned
    # A running mute cannot be escaped by leaving and joining again.
    await sanction(onboarding, cid, "m", kind="mute", duration_hours=24)
    await onboarding.client.post(f"{BASE}/communities/{cid}/leave", headers=onboarding.member("m"))
    rejoined = await join(onboarding, cid, "m")
    assert rejoined.status_code == 201 and rejoined.json()["status"] == "muted"


async def test_the_report_queue(onboarding: Onboarding) -> None:
    first = await onboarding.community(slug="club-a")
    second = await onboarding.community(slug="club-b")
    for community in (first, second):
        for member in ("r1", "r2", "bad"):
            await join(onboarding, community["id"], member)
    a, b = first["id"], second["id"]
    filed = await report(onboarding, a, "r1", "bad", text="一直发广告")
    assert filed.status_code == 201, filed.text
    same = await report(onboarding, a, "r1", "bad", text="又发了")
    assert same.status_code == 200 and same.json()["id"] == filed.json()["id"]
    await report(onboarding, a, "r2", "bad", category="abuse")
    await report(onboarding, a, "r2", "post-123", target_kind="content", category="rumor")
    await report(onboarding, b, "r1", "bad", category="vulgar")
    assert len(await onboarding.events(FILED)) == 4
    queue = f"{BASE}/reports"
    headers = onboarding.operator(roles=("operator",))
    page = await onboarding.client.get(
        queue, params={"community_id": a, "limit": 2}, headers=headers
    )
    rest = await onboarding.client.get(
        queue,
        params={"community_id": a, "limit": 2, "cursor": page.json()["next_cursor"]},
        headers=headers,
    )
    ids = [r["id"] for r in page.json()["items"] + rest.json()["items"]]
    assert len(ids) == 3 == len(set(ids)) and rest.json()["next_cursor"] is None
    spam = await onboarding.client.get(queue, params={"category": "spam"}, headers=headers)
    assert [r["id"] for r in spam.json()["items"]] == [filed.json()["id"]]
    issued = await sanction(onboarding, a, "bad", report_id=filed.json()["id"])
    assert issued.status_code == 201 and issued.json()["report_id"] == filed.json()["id"]
    open_ones = await onboarding.client.get(
        queue, params={"community_id": a, "status": "open"}, headers=headers
    )
    assert len(open_ones.json()["items"]) == 2
    actioned = await onboarding.client.get(f"{queue}/{filed.json()['id']}", headers=headers)
    assert actioned.json()["status"] == "actioned"
    assert actioned.json()["sanction_id"] == issued.json()["id"]
    content = next(r for r in open_ones.json()["items"] if r["target_kind"] == "content")
    dismissed = await onboarding.client.post(
        f"{queue}/{content['id']}/resolve",
        json={"outcome": "dismissed", "note": "不是谣言"},
        headers=headers,
    )
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    twice = await onboarding.client.post(
        f"{queue}/{content['id']}/resolve", json={"outcome": "dismissed"}, headers=headers
    )
    assert twice.status_code == 409
    refiled = await report(onboarding, a, "r1", "bad")  # the old one is closed: a new report
    assert refiled.status_code == 201 and refiled.json()["id"] != filed.json()["id"]
    assert await audit_actions(onboarding, "report.") == ["report.dismissed"]
    for bad in (
        {"target_kind": "member", "target_id": "bad", "category": "other-thing"},
        {"target_kind": "user", "target_id": "bad", "category": "spam"},
        {"target_kind": "member", "target_id": "", "category": "spam"},
        {"target_kind": "member", "target_id": "bad", "category": "spam", "extra": 1},
    ):
        refused = await onboarding.client.post(
            f"{BASE}/communities/{a}/reports", json=bad, headers=onboarding.member("r1")
        )
        assert refused.status_code == 422, bad
    assert (await report(onboarding, a, "r1", "r1")).status_code == 422  # not oneself
    assert (await report(onboarding, a, "r1", "nobody")).status_code == 404
    assert (await report(onboarding, a, "outsider", "bad")).status_code == 403
    assert (
        await onboarding.client.get(queue, params={"status": "nope"}, headers=headers)
    ).status_code == 422


async def test_access_rules_and_bad_input(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    cid = community["id"]
    await join(onboarding, cid, "m")
    await join(onboarding, cid, "peer")
    issued = await sanction(onboarding, cid, "m", kind="warning")
    sid = issued.json()["id"]
    filed = await report(onboarding, cid, "peer", "m")
    appealed = await appeal(onboarding, sid, "m")
    member = onboarding.member("peer")
    other = onboarding.operator("tenant-b")
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", f"/communities/{cid}/sanctions", {"member_id": "m", "reason": "x"}),
        ("GET", f"/communities/{cid}/sanctions", None),
        ("GET", f"/sanctions/{sid}", None),
        ("POST", f"/sanctions/{sid}/lift", {"reason": "x"}),
        ("GET", f"/communities/{cid}/moderation-ladder", None),
        ("PUT", f"/communities/{cid}/moderation-ladder", {"steps": [{"kind": "ban"}]}),
        ("GET", f"/reports/{filed.json()['id']}", None),
        ("POST", f"/reports/{filed.json()['id']}/resolve", {"outcome": "dismissed"}),
        ("POST", f"/appeals/{appealed.json()['id']}/decide", {"decision": "uphold", "reason": "x"}),
        ("GET", f"/reports?community_id={cid}", None),
        ("GET", f"/appeals?community_id={cid}", None),
    ]
    for method, path, body in calls:
        as_member = await onboarding.client.request(method, BASE + path, json=body, headers=member)
        assert as_member.status_code == 403, (method, path, as_member.text)
        cross = await onboarding.client.request(method, BASE + path, json=body, headers=other)
        assert cross.status_code == 404, (method, path, cross.text)
    for path in ("/reports", "/appeals"):  # the whole tenant's queue: tenant operators only
        assert (await onboarding.client.get(BASE + path, headers=member)).status_code == 403
        assert (await onboarding.client.get(BASE + path, headers=other)).json()["items"] == []
    cross_appeal = await onboarding.client.post(
        f"{BASE}/sanctions/{sid}/appeals",
        json={"text": "x"},
        headers=onboarding.member("m", tenant="tenant-b"),
    )
    assert cross_appeal.status_code == 404
    for body in (
        {"member_id": "m", "reason": "x", "kind": "mute"},  # a mute needs its duration
        {"member_id": "m", "reason": "x", "kind": "warning", "duration_hours": 1},
        {"member_id": "m", "reason": "x", "kind": "mute", "tenant_wide": True, "duration_hours": 1},
        {"member_id": "m", "reason": ""},
        {"member_id": "m", "reason": "x", "kind": "slap"},
        {"member_id": "m", "reason": "x", "extra": 1},
        {"member_id": "m", "reason": "x\x00"},
    ):
        refused = await sanction_body(onboarding, cid, body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await sanction(onboarding, cid, "nobody")).status_code == 404
    unknown_report = await sanction(onboarding, cid, "m", report_id="no-such-report")
    assert unknown_report.status_code == 404
    tenant_wide = await sanction(
        onboarding,
        cid,
        "m",
        kind="ban",
        tenant_wide=True,
        headers=onboarding.operator(roles=("operator",)),
    )
    assert tenant_wide.status_code == 201  # operators are tenant operators
    resolve = await onboarding.client.post(
        f"{BASE}/reports/{filed.json()['id']}/resolve",
        json={"outcome": "actioned"},
        headers=onboarding.operator(),
    )
    assert resolve.status_code == 422  # actioned names its sanction
    bad_cursor = await onboarding.client.get(
        f"{BASE}/reports", params={"cursor": "!!"}, headers=onboarding.operator()
    )
    assert bad_cursor.status_code == 400
