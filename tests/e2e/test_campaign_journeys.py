"""Activities' bigger moments through the gateway, over real HTTP and Kafka: a referral
campaign (任务宝) whose tier waits for the refund window, an offline meetup (线下活动)
selected by lottery with its waitlist and venue check-in, a live talk's question queue.
Days move on activities' development clock (the offset file), never by sleeping."""

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

import httpx
from aiokafka import AIOKafkaConsumer

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
AC = "/v1/activities"
HOUR_S = 3600
PRICE = {"amount_cents": 9900, "currency": "CNY"}
MEETUP = "quanzi.activities.meetup."
ANSWERS = {"answers": {"0": "6+"}}  # the meetup's registration form


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    """Events travel outbox → broker → consumer: wait for their effect, to a deadline."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        time.sleep(0.1)
    return found


def member(client: httpx.Client, tenant: Tenant, external_id: str) -> dict[str, str]:
    minted = client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": tenant.api_key},
        json={"external_id": external_id, "profile": {"display_name": external_id}},
    )
    assert minted.status_code == 201, minted.text
    return bearer(minted.json()["access_token"])


def community(client: httpx.Client, owner: dict[str, str], **settings: Any) -> str:
    created = client.post(
        f"{OB}/communities", headers=owner, json={"timezone": "Asia/Shanghai", **settings}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def created_once_seen(client: httpx.Client, url: str, owner: dict[str, str], body: Any) -> Any:
    """Set up an activity as soon as activities' projection has the community."""
    return eventually(
        lambda: (a := client.post(url, headers=owner, json=body)).status_code == 201 and a.json(),
        "activities saw the community",
    )


async def events_of(bootstrap: str, key: str, until: str) -> list[tuple[str, Any]]:
    """(type, data) of activities' records keyed by ``key`` (a member), read from the
    start of the topic until an ``until`` one."""
    consumer = AIOKafkaConsumer(
        "activities.campaigns",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    found: list[tuple[str, Any]] = []
    try:
        async with asyncio.timeout(30):
            async for record in consumer:
                if record.key is None or record.key.decode() != key:
                    continue
                headers = {name: value.decode() for name, value in record.headers}
                found.append((headers["ce_type"], json.loads(record.value)))
                if headers["ce_type"] == until:
                    return found
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


def test_a_referral_tier_is_paid_past_the_refund_window_and_a_paid_tier_is_clawed_back(
    platform: Platform, tenant: Tenant
) -> None:
    """任务宝 in a paid community (24 h refund window): A's invite, with the campaign's
    channel, brings B, C and D, who pay; D refunds inside the window. Two campaigns read
    the same joins under the two documented policies:

    - ``past_refund_window`` (tiers 2 → 20, 3 → 50 points): nothing counts while the
      windows are open; once activities' clock passes them, B and C count, the 2-invite
      tier is granted once and the 3-invite tier is never reached (D never counts);
    - ``paid`` (3 → 30 points): the three paid joins count at once and grant the tier;
      D's refund revokes it, and rewards reverses the 30 points it credited."""
    clock = Path(platform.env_for("activities")["QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    channel = f"任务宝-{suffix}"
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            key = client.post(
                "/v1/api-keys",
                headers=owner,
                json={"name": "billing", "scopes": ["payments:write"]},
            )
            assert key.status_code == 201, key.text
            billing = key.json()["key"]
            cid = community(
                client,
                owner,
                slug=f"fission-{suffix}",
                name="任务宝训练营",
                join_policy="paid",
                price_cents=PRICE["amount_cents"],
                currency=PRICE["currency"],
                term_kind="rolling",
                term_days=365,
                refund_window_hours=24,
            )

            def pay(member_id: str) -> dict[str, Any]:
                paid = client.post(
                    f"{OB}/payments",
                    headers={"X-Api-Key": billing, "Idempotency-Key": f"pay-{member_id}"},
                    json={
                        "reference": f"wx-{member_id}",
                        "community_id": cid,
                        "member_id": member_id,
                        **PRICE,
                    },
                )
                assert paid.status_code == 201, paid.text
                assert paid.json()["membership"]["status"] == "active"
                return dict(paid.json()["membership"])

            inviter = f"a-{suffix}"
            a = member(client, tenant, inviter)
            pay(inviter)
            now = datetime.now(UTC)
            period = {
                "community_id": cid,
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
                "channel": channel,
            }
            waiting = created_once_seen(
                client,
                f"{AC}/referrals",
                owner,
                {
                    **period,
                    "title": "邀请好友，课程免费",
                    "tiers": [{"invites": 2, "points": 20}, {"invites": 3, "points": 50}],
                    "counting": "past_refund_window",
                },
            )
            at_once = created_once_seen(
                client,
                f"{AC}/referrals",
                owner,
                {
                    **period,
                    "title": "付费即算",
                    "tiers": [{"invites": 3, "points": 30}],
                    "counting": "paid",
                },
            )
            poster = client.post(
                f"{OB}/invites",
                headers=owner,
                json={
                    "community_id": cid,
                    "inviter_id": inviter,
                    "channel": channel,
                    "max_uses": 3,
                },
            )
            assert poster.status_code == 201, poster.text
            memberships = {}
            for name in ("b", "c", "d"):
                invitee = f"{name}-{suffix}"
                redeemed = client.post(
                    f"{OB}/invites/{poster.json()['code']}/redeem",
                    headers=member(client, tenant, invitee),
                )
                assert redeemed.status_code == 201, redeemed.text
                assert redeemed.json()["status"] == "pending_payment"
                memberships[name] = pay(invitee)
                assert memberships[name]["source"]["inviter_id"] == inviter

            def progress(campaign: dict[str, Any]) -> Any:
                url = f"{AC}/referrals/{campaign['id']}/progress"
                answer = client.get(url, headers=a)
                return answer.status_code == 200 and answer.json()

            paid_counting = eventually(
                lambda: (p := progress(at_once)) and p["tiers_granted"] == [0] and p,
                "the paid joins granted the tier at once",
            )
            assert paid_counting["counted"] == 3
            held = eventually(
                lambda: (p := progress(waiting)) and p["pending"] == 3 and p,
                "the joins waiting for their windows",
            )
            assert (held["counted"], held["tiers_granted"]) == (0, [])

            refund = client.post(
                f"{OB}/memberships/{memberships['d']['id']}/refund",
                headers={"X-Api-Key": billing, "Idempotency-Key": f"refund-{suffix}"},
                json={"reason": "7天无理由"},
            )
            assert refund.status_code == 200, refund.text
            clawed = eventually(
                lambda: (p := progress(at_once)) and p["tiers_granted"] == [] and p,
                "the refund revoked the paid tier",
            )
            assert clawed["counted"] == 2
            held = progress(waiting)
            assert (held["counted"], held["pending"], held["tiers_granted"]) == (0, 2, [])

            def tier_entries() -> list[tuple[str, int]]:
                items = client.get("/v1/rewards/me/entries", headers=a).json()["items"]
                earned = {e["id"] for e in items if e["rule_id"] == "referral-tier"}
                mine = [e for e in items if e["id"] in earned or e["reverses_entry_id"] in earned]
                return [(e["kind"], e["points"]) for e in sorted(mine, key=lambda e: e["id"])]

            eventually(
                lambda: tier_entries() == [("earn", 30), ("reverse", -30)],
                "rewards credited the paid tier and took it back",
            )

            # The windows end (activities' clock a day and a bit later): B and C count.
            clock.write_text(str(24 * HOUR_S + 120))
            settled = eventually(
                lambda: (p := progress(waiting)) and p["counted"] == 2 and p,
                "the windows' timers counted B and C",
            )
            assert settled["pending"] == 0 and settled["tiers_granted"] == [0]
            assert (settled["next_tier"], settled["invites_to_next"]) == (1, 1)
            assert progress(at_once)["tiers_granted"] == []  # D's refund stays counted out
            eventually(
                lambda: tier_entries() == [("earn", 30), ("reverse", -30), ("earn", 20)],
                "rewards credited the 2-invite tier",
            )
            board = client.get(f"{AC}/referrals/{waiting['id']}/leaderboard", headers=owner)
            assert board.status_code == 200, board.text
            assert [(r["member_id"], r["counted"]) for r in board.json()] == [(inviter, 2)]
            assert tier_entries()[-1] == ("earn", 20)  # once, however often it is read
    finally:
        clock.write_text("0")


def test_a_lottery_meetup_promotes_its_waitlist_and_checks_in_at_the_venue(
    platform: Platform, tenant: Tenant
) -> None:
    """Four members apply for two seats; activities' clock passes the close, the draw
    timer orders them by the tickets anyone recomputes from the revealed seed; a winner
    cancels, the head of the waitlist is offered the seat and confirms; staff scan the
    signed code once (a second scan and a forged code are refused); ``meetup.attended``
    reaches Kafka. Never more seats held than two."""
    clock = Path(platform.env_for("activities")["QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            cid = community(client, owner, slug=f"meetup-{suffix}", name="杭州读书会")
            members: dict[str, dict[str, str]] = {}
            for name in ("m0", "m1", "m2", "m3"):
                members[f"{name}-{suffix}"] = headers = member(client, tenant, f"{name}-{suffix}")
                joined = client.post(f"{OB}/communities/{cid}/join", headers=headers)
                assert joined.status_code == 201, joined.text
            now = datetime.now(UTC)
            meetup = created_once_seen(
                client,
                f"{AC}/meetups",
                owner,
                {
                    "community_id": cid,
                    "title": "线下读书会",
                    "city": "杭州",
                    "venue": "西湖边的书店",
                    "capacity": 2,
                    "selection": "lottery",
                    "questions": [{"prompt": "读过几本?", "options": ["1-5", "6+"]}],
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(hours=1)).isoformat(),
                    "starts_at": (now + timedelta(hours=3)).isoformat(),
                    "ends_at": (now + timedelta(hours=5)).isoformat(),
                    "confirm_hours": 1,
                },
            )
            url = f"{AC}/meetups/{meetup['id']}"
            assert meetup["seed"] is None
            for headers in members.values():
                applied = eventually(
                    lambda h=headers: (
                        (
                            r := client.post(f"{url}/registrations", headers=h, json=ANSWERS)
                        ).status_code
                        == 201
                        and r.json()
                    ),
                    "activities saw the membership",
                )
                assert applied["status"] == "applied" and applied["checkin_code"] is None
            again = client.post(f"{url}/registrations", headers=headers, json=ANSWERS)
            assert again.status_code == 409, again.text

            def roster() -> list[dict[str, Any]]:
                answer = client.get(f"{url}/registrations", headers=owner)
                assert answer.status_code == 200, answer.text
                rows: list[dict[str, Any]] = answer.json()
                held = [r for r in rows if r["status"] in ("confirmed", "offered", "attended")]
                assert len(held) <= 2, rows  # never more seats held than the capacity
                return rows

            # Registration closes (activities' clock past closes_at): the draw timer runs.
            clock.write_text(str(HOUR_S + 60))
            drawn = eventually(
                lambda: (m := client.get(url, headers=owner).json())["drawn_at"] and m,
                "the draw at the close",
            )
            seed = drawn["seed"]
            assert hashlib.sha256(seed.encode()).hexdigest() == meetup["seed_hash"]
            rows = roster()
            by_ticket = sorted(
                rows,
                key=lambda r: (hashlib.sha256(f"{seed}:{r['id']}".encode()).hexdigest(), r["id"]),
            )
            assert [(r["status"], r["waitlist_position"]) for r in by_ticket] == [
                ("confirmed", None),
                ("confirmed", None),
                ("waitlisted", 1),
                ("waitlisted", 2),
            ]
            assert drawn["seats_taken"] == 2
            winner, _, head, last = (r["member_id"] for r in by_ticket)

            # A winner cancels: the head of the waitlist is offered the seat.
            cancelled = client.post(f"{url}/registration/cancel", headers=members[winner])
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled"
            offer = client.get(f"{url}/registration", headers=members[head]).json()
            assert offer["status"] == "offered" and offer["confirm_by"] is not None
            assert offer["checkin_code"] is None
            still = client.get(f"{url}/registration", headers=members[last]).json()
            assert (still["status"], still["waitlist_position"]) == ("waitlisted", 2)
            confirmed = client.post(f"{url}/registration/confirm", headers=members[head])
            assert confirmed.status_code == 200, confirmed.text
            code = confirmed.json()["checkin_code"]
            assert confirmed.json()["status"] == "confirmed" and code
            assert sum(r["status"] == "confirmed" for r in roster()) == 2
            assert client.get(url, headers=owner).json()["seats_taken"] == 2

            # At the venue: staff scan the code once; a forged one is refused.
            number, _, mac = code.partition("-")
            forged = client.post(
                f"{url}/checkins", headers=owner, json={"code": f"{number}-{'A' * len(mac)}"}
            )
            assert forged.status_code == 422, forged.text
            scanned = client.post(f"{url}/checkins", headers=owner, json={"code": code})
            assert scanned.status_code == 200, scanned.text
            assert scanned.json()["status"] == "attended"
            reused = client.post(f"{url}/checkins", headers=owner, json={"code": code})
            assert reused.status_code == 409, reused.text
            assert reused.json()["type"].endswith("/code-used")
            roster()

        seen = asyncio.run(events_of(platform.bootstrap_servers, head, MEETUP + "attended.v1"))
        about = [kind.removeprefix(MEETUP) for kind, data in seen if kind.startswith(MEETUP)]
        assert about == ["registered.v1", "promoted.v1", "confirmed.v1", "attended.v1"]
        assert {data["meetup_id"] for kind, data in seen if kind.startswith(MEETUP)} == {
            meetup["id"]
        }
    finally:
        clock.write_text("0")


def test_a_talks_questions_are_queued_by_votes_then_time_and_the_host_answers_one(
    platform: Platform, tenant: Tenant
) -> None:
    """Before a talk starts, three members ask and the others upvote (once each); the
    queue shows open questions by votes, a tie to the earlier question; the host marks
    the first answered, it moves after the open ones and takes no more votes."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        cid = community(client, owner, slug=f"ama-q-{suffix}", name="嘉宾问答")
        members: dict[str, dict[str, str]] = {}
        for name in ("a", "b", "c", "d"):
            members[name] = member(client, tenant, f"{name}-{suffix}")
            joined = client.post(f"{OB}/communities/{cid}/join", headers=members[name])
            assert joined.status_code == 201, joined.text
        starts = datetime.now(UTC) + timedelta(hours=1)
        talk = created_once_seen(
            client,
            f"{AC}/talks",
            owner,
            {
                "community_id": cid,
                "title": "嘉宾 AMA",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
            },
        )
        url = f"{AC}/talks/{talk['id']}/questions"
        asked = {}
        for name, text in (("a", "怎么开始?"), ("b", "怎么坚持?"), ("c", "怎么复盘?")):
            question = eventually(
                lambda n=name, t=text: (
                    (r := client.post(url, headers=members[n], json={"text": t})).status_code == 201
                    and r.json()
                ),
                "activities saw the membership",
            )
            asked[name] = question["id"]

        def vote(voter: str, asker: str) -> int:
            answer = client.put(f"{url}/{asked[asker]}/vote", headers=members[voter])
            return answer.status_code

        # b's and c's questions 2 votes each (b asked first), a's one.
        for voter, asker in (("c", "b"), ("d", "b"), ("a", "c"), ("d", "c"), ("b", "a")):
            assert vote(voter, asker) == 204
        assert vote("d", "b") == 409  # once each

        def queue(headers: dict[str, str]) -> list[tuple[str, str, int]]:
            answer = client.get(url, headers=headers)
            assert answer.status_code == 200, answer.text
            by_id = {v: k for k, v in asked.items()}
            return [(by_id[q["id"]], q["status"], q["votes"]) for q in answer.json()]

        assert queue(members["d"]) == [("b", "open", 2), ("c", "open", 2), ("a", "open", 1)]
        mine = {q["id"]: q["upvoted"] for q in client.get(url, headers=members["d"]).json()}
        assert mine == {asked["b"]: True, asked["c"]: True, asked["a"]: False}

        marked = client.post(
            f"{url}/{asked['b']}/status", headers=owner, json={"status": "answered"}
        )
        assert marked.status_code == 200, marked.text
        assert marked.json()["status"] == "answered" and marked.json()["marked_at"]
        assert queue(members["a"]) == [("c", "open", 2), ("a", "open", 1), ("b", "answered", 2)]
        assert vote("a", "b") == 409  # answered: no more votes
        assert queue(owner) == queue(members["a"])
