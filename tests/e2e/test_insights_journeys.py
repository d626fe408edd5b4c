"""Insights through the gateway, over real HTTP and Kafka: members join a paid community
through two routing codes (a poster and a partner), some pay, one refunds, some check in;
the channel funnel, the cohort and the activity figures are what this test counts itself;
members left idle go silent on insights' development clock (not by sleeping), are listed,
and `member.went_silent` is on the topic with each member's hold-out arm; the operator's
reactivation sequence (content) reaches the contacted members and none held out."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
AC = "/v1/activities"
IN = "/v1/insights"
CT = "/v1/content"
DAY_S = 24 * 3600
WENT_SILENT = "quanzi.insights.member.went_silent.v1"
STEP_DELIVERED = "quanzi.content.sequence.step_delivered.v1"
SILENT = ("p0", "p1", "p2", "q1", "q2")  # everyone but the refunded q0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """Events travel outbox → broker → consumer: wait for their effect, to a deadline."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        time.sleep(0.2)
    return found


def created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def held_out(tenant_id: str, community_id: str, member_id: str, percent: int) -> bool:
    """The arm as the contract describes it: SHA-256 of tenant, community and member."""
    digest = hashlib.sha256(f"{tenant_id}\x1f{community_id}\x1f{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


async def silent_events(bootstrap: str, community_id: str, count: int) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        "insights.members",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                headers = {name: value.decode() for name, value in record.headers}
                data = json.loads(record.value)
                if headers["ce_type"] == WENT_SILENT and data["community_id"] == community_id:
                    found.append(data)
                    if len(found) == count:
                        return found
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def nudged(bootstrap: str, sequence_id: str, members: set[str]) -> set[str]:
    """The members a reactivation sequence's first step went to, read off content.sequences
    until every one of ``members`` is there (anyone else found on the way is returned too)."""
    consumer = AIOKafkaConsumer(
        "content.sequences",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    found: set[str] = set()
    try:
        async with asyncio.timeout(60):
            async for record in consumer:
                headers = {name: value.decode() for name, value in record.headers}
                data = json.loads(record.value)
                if headers["ce_type"] == STEP_DELIVERED and data["sequence_id"] == sequence_id:
                    found.add(data["member_id"])
                    if members <= found:
                        return found
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


def mixed_arms(tenant_id: str, community_id: str) -> str:
    """A member-id tail that puts the silent members in both arms (held out at 50 %), so
    the journey sees a contacted and a held-out member whatever the community's id."""
    while True:
        tail = uuid.uuid4().hex[:8]
        arms = {held_out(tenant_id, community_id, f"{n}-{tail}", 50) for n in SILENT}
        if arms == {True, False}:
            return tail


def test_channels_cohort_activity_and_silent_members(platform: Platform, tenant: Tenant) -> None:
    clock = Path(platform.env_for("insights")["QUANZI_INSIGHTS_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            key = created(
                client.post(
                    "/v1/api-keys",
                    headers=owner,
                    json={"name": "billing", "scopes": ["payments:write"]},
                )
            )
            billing = {"X-Api-Key": key["key"]}
            community = created(
                client.post(
                    f"{OB}/communities",
                    headers=owner,
                    json={
                        "slug": f"insights-{suffix}",
                        "name": "读书会",
                        "timezone": "Asia/Shanghai",
                        "join_policy": "paid",
                        "price_cents": 9900,
                        "currency": "CNY",
                        "term_kind": "rolling",
                        "term_days": 365,
                        "trial_days": 7,
                        "refund_window_hours": 72,
                        "groups": [{"name": "1群"}],
                    },
                )
            )
            cid = community["id"]
            tail = mixed_arms(tenant.id, cid)
            groups = client.get(f"{OB}/communities/{cid}/groups", headers=owner).json()["items"]
            for code, channel in (("POSTER", "poster"), ("PARTNER", "partner")):
                created(
                    client.post(
                        f"{OB}/routing-codes",
                        headers=owner,
                        json={
                            "community_id": cid,
                            "code": f"{code}-{suffix}",
                            "channel": channel,
                            "group_ids": [g["id"] for g in groups],
                            "overflow_prefix": "溢出",
                        },
                    )
                )
            members: dict[str, dict[str, str]] = {}
            for name, code in [(f"p{i}", "POSTER") for i in range(3)] + [
                (f"q{i}", "PARTNER") for i in range(3)
            ]:
                member_id = f"{name}-{tail}"
                minted = client.post(
                    "/v1/member-tokens",
                    headers={"X-Api-Key": tenant.api_key},
                    json={"external_id": member_id, "profile": {"display_name": name}},
                )
                members[name] = bearer(minted.json()["access_token"])
                joined = created(
                    client.post(f"{OB}/routing-codes/{code}-{suffix}/join", headers=members[name])
                )
                assert joined["status"] == "trial", joined
            paid_ids = {}
            for name in ("p0", "p1", "q0"):
                paid = created(
                    client.post(
                        f"{OB}/payments",
                        headers={**billing, "Idempotency-Key": f"pay-{name}-{suffix}"},
                        json={
                            "reference": f"wx-{name}-{suffix}",
                            "community_id": cid,
                            "member_id": f"{name}-{tail}",
                            "amount_cents": 9900,
                            "currency": "CNY",
                        },
                    )
                )
                paid_ids[name] = paid["membership"]["id"]
            refunded = client.post(
                f"{OB}/memberships/{paid_ids['q0']}/refund",
                headers={**billing, "Idempotency-Key": f"refund-{suffix}"},
                json={"reason": "7天无理由"},
            )
            assert refunded.status_code == 200, refunded.text

            # p0 and q1 check in today
            body = {
                "community_id": cid,
                "title": "读书打卡",
                "start_date": (today - timedelta(days=1)).isoformat(),
                "end_date": (today + timedelta(days=10)).isoformat(),
                "required_days": 5,
            }
            challenge = eventually(
                lambda: (
                    (
                        answer := client.post(f"{AC}/challenges", headers=owner, json=body)
                    ).status_code
                    == 201
                    and answer.json()
                ),
                "activities saw the community",
            )
            for name in ("p0", "q1"):
                eventually(
                    lambda name=name: (
                        client.post(  # type: ignore[misc]
                            f"{AC}/challenges/{challenge['id']}/checkins",
                            headers=members[name],
                            json={},
                        ).status_code
                        == 201
                    ),
                    "activities saw the membership",
                )

            def funnel() -> Any:
                answer = client.get(f"{IN}/channels", params={"community_id": cid}, headers=owner)
                if answer.status_code != 200:
                    return None
                rows = {row["channel"]: row for row in answer.json()["channels"]}
                counts = [(r["joined"], r["paid"], r["refunded"]) for r in rows.values()]
                return rows if sorted(counts) == [(3, 1, 1), (3, 2, 0)] else None

            rows = eventually(funnel, "insights counted the channels")
            assert rows["poster"]["code"] == f"POSTER-{suffix}"
            assert (rows["poster"]["joined"], rows["poster"]["paid"]) == (3, 2)
            assert (rows["partner"]["paid"], rows["partner"]["refunded"]) == (1, 1)
            assert rows["poster"]["paid_rate"] == round(2 / 3, 4)

            def summary() -> Any:
                answer = client.get(f"{IN}/summary", params={"community_id": cid}, headers=owner)
                [one] = answer.json()["communities"]
                return one if one["dau"] == 2 and one["members"] == 5 else None

            one = eventually(summary, "insights counted the check-ins")
            assert one["today"] == today.isoformat() and one["joined_7d"] == 6
            assert one["activity_rate"] == 0.4 and one["paid_7d"] == 3

            cohorts = client.get(f"{IN}/cohorts", params={"community_id": cid}, headers=owner)
            [cohort] = cohorts.json()["cohorts"]
            assert cohort["size"] == 6 and cohort["retention"][0]["share"] is None
            series = client.get(
                f"{IN}/series", params={"community_id": cid, "format": "csv"}, headers=owner
            )
            assert series.status_code == 200 and series.text.lstrip("\ufeff").startswith("day,")

            # the operator's reactivation sequence for this community (content)
            steps = [{"delay_s": 0, "kind": "message", "body": "好久不见，本周共读第三章"}]
            sequence = eventually(
                lambda: (
                    (
                        answer := client.post(
                            f"{CT}/sequences",
                            headers=owner,
                            json={
                                "name": "沉默唤醒",
                                "trigger": "silent",
                                "community_id": cid,
                                "steps": steps,
                            },
                        )
                    ).status_code
                    == 201
                    and answer.json()
                ),
                "content saw the community",
            )

            # one idle day is enough here; half are held out of outreach
            settings = client.put(
                f"{IN}/communities/{cid}/settings",
                headers=owner,
                json={"silent_after_days": 1, "holdout_percent": 50},
            )
            assert settings.status_code == 200, settings.text
            clock.write_text(str(3 * DAY_S))  # insights' clock: three days later

            def listed() -> Any:
                answer = client.get(f"{IN}/silent", params={"community_id": cid}, headers=owner)
                items = answer.json()["items"]
                return items if len(items) == 5 else None

            silent = eventually(listed, "the silence timers fired")
            names = {item["member_id"] for item in silent}
            assert names == {f"{n}-{tail}" for n in SILENT}
            for item in silent:
                assert item["held_out"] is held_out(tenant.id, cid, item["member_id"], 50)
    finally:
        clock.write_text("0")
    events = asyncio.run(silent_events(platform.bootstrap_servers, cid, 5))
    assert {e["member_id"] for e in events} == names
    assert all(e["held_out"] is held_out(tenant.id, cid, e["member_id"], 50) for e in events)
    assert all(e["silent_after_days"] == 1 for e in events)

    # content nudged the contacted members (a step on content.sequences) and no held-out one
    contacted = {e["member_id"] for e in events if not e["held_out"]}
    reached = asyncio.run(nudged(platform.bootstrap_servers, sequence["id"], contacted))
    assert reached == contacted and 0 < len(contacted) < len(names)
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        detail = client.get(f"{CT}/sequences/{sequence['id']}", headers=bearer(tenant.owner_token))
    assert detail.status_code == 200, detail.text
    assert sum(detail.json()["runs"].values()) == len(contacted)  # no run for the held out
    assert detail.json()["reach"] == [{"delivered": len(contacted), "skipped": 0}]
