"""A check-in challenge through the gateway, over real HTTP and Kafka: onboarding's
community and membership reach activities; a member checks in on two local days (the
second a day later on activities' development clock, not by sleeping), a streak forms,
and rewards credits each check-in once from activities' events."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
AC = "/v1/activities"
DAY_S = 24 * 3600


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    """Events travel outbox → broker → consumer: wait for their effect, to a deadline."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s}s"
        time.sleep(0.1)
    return found


def test_two_local_days_make_a_streak_and_rewards_credits_each_check_in_once(
    platform: Platform, tenant: Tenant
) -> None:
    clock = Path(platform.env_for("activities")["QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    member_id = f"runner-{suffix}"
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            community = client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"run-{suffix}", "name": "晨跑", "timezone": "Asia/Shanghai"},
            )
            assert community.status_code == 201, community.text
            cid = community.json()["id"]
            minted = client.post(
                "/v1/member-tokens",
                headers={"X-Api-Key": tenant.api_key},
                json={"external_id": member_id, "profile": {"display_name": "跑者"}},
            )
            member = bearer(minted.json()["access_token"])
            joined = client.post(f"{OB}/communities/{cid}/join", headers=member)
            assert joined.status_code == 201, joined.text

            challenge_body = {
                "community_id": cid,
                "title": "晨跑打卡",
                "start_date": (today - timedelta(days=1)).isoformat(),
                "end_date": (today + timedelta(days=10)).isoformat(),
                "required_days": 5,
                "requires": ["number"],
            }
            challenge = eventually(
                lambda: (
                    (
                        answer := client.post(
                            f"{AC}/challenges", headers=owner, json=challenge_body
                        )
                    ).status_code
                    == 201
                    and answer.json()
                ),
                "activities saw the community",
            )

            def check_in() -> httpx.Response:
                return client.post(
                    f"{AC}/challenges/{challenge['id']}/checkins",
                    headers=member,
                    json={"number": 5},
                )

            first = eventually(
                lambda: (answer := check_in()).status_code == 201 and answer.json(),
                "activities saw the membership",
            )
            assert first["day"] == today.isoformat() and first["streak"] == 1
            assert check_in().status_code == 409  # once a day
            clock.write_text(str(DAY_S))  # activities' clock: the same hour, a day later
            second = check_in()
            assert second.status_code == 201, second.text
            tomorrow = (today + timedelta(days=1)).isoformat()
            assert second.json()["day"] == tomorrow and second.json()["streak"] == 2
            calendar = client.get(f"{AC}/challenges/{challenge['id']}/calendar", headers=member)
            assert calendar.json()["streak"] == 2

            def check_in_credits() -> list[dict[str, Any]]:
                items = client.get("/v1/rewards/me/entries", headers=member).json()["items"]
                found = [e for e in items if e["rule_id"] == "daily-check-in"]
                return found if len(found) >= 2 else []

            credited = eventually(check_in_credits, "rewards credited both check-ins")
            assert [e["points"] for e in credited] == [2, 2]
            assert len(check_in_credits()) == 2
    finally:
        clock.write_text("0")


def test_a_draw_is_committed_drawn_and_verified_and_prizes_and_drops_are_credited(
    platform: Platform, tenant: Tenant
) -> None:
    """Through the gateway: the seed's hash published, two members enter, the operator
    draws, anyone recomputes the winners from the revealed seed and the published
    entrants; rewards credits the points prize and a claimed share of a drop."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        community = client.post(
            f"{OB}/communities",
            headers=owner,
            json={"slug": f"draw-{suffix}", "name": "抽奖", "timezone": "Asia/Shanghai"},
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]
        members = {}
        for name in ("a", "b"):
            minted = client.post(
                "/v1/member-tokens",
                headers={"X-Api-Key": tenant.api_key},
                json={"external_id": f"{name}-{suffix}", "profile": {"display_name": name}},
            )
            members[f"{name}-{suffix}"] = bearer(minted.json()["access_token"])
            joined = client.post(
                f"{OB}/communities/{cid}/join", headers=members[f"{name}-{suffix}"]
            )
            assert joined.status_code == 201, joined.text
        closes = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        body = {
            "community_id": cid,
            "title": "周年抽奖",
            "prizes": [{"name": "50 积分", "kind": "points", "quantity": 1, "points": 50}],
            "closes_at": closes,
        }
        draw = eventually(
            lambda: (
                (a := client.post(f"{AC}/draws", headers=owner, json=body)).status_code == 201
                and a.json()
            ),
            "activities saw the community",
        )
        assert draw["seed"] is None
        for headers in members.values():
            eventually(
                lambda h=headers: (
                    client.post(f"{AC}/draws/{draw['id']}/entries", headers=h).status_code == 204
                ),
                "activities saw the membership",
            )
        drawn = client.post(f"{AC}/draws/{draw['id']}/draw", headers=owner)
        assert drawn.status_code == 200, drawn.text
        result = client.get(f"{AC}/draws/{draw['id']}/result", headers=members[f"a-{suffix}"])
        body_out = result.json()
        seed, entrants = body_out["draw"]["seed"], body_out["entrants"]
        assert hashlib.sha256(seed.encode()).hexdigest() == draw["seed_hash"]
        assert entrants == sorted(members)
        [winner] = body_out["winners"]
        # The documented procedure, by hand: shuffle the sorted entrants, then one pick.
        order = list(entrants)
        j = int(hashlib.sha256(f"{seed}:0".encode()).hexdigest(), 16) % 2
        order[1], order[j] = order[j], order[1]
        assert winner["member_id"] == order[0]

        def credited(member: str, rule: str) -> list[dict[str, Any]]:
            items = client.get("/v1/rewards/me/entries", headers=members[member]).json()["items"]
            return [e for e in items if e["rule_id"] == rule]

        prize = eventually(lambda: credited(order[0], "draw-prize"), "rewards paid the prize")
        assert [e["points"] for e in prize] == [50]

        funded = client.post(  # a drop's points come from the operator's budget
            "/v1/rewards/budget/fundings",
            headers={**owner, "Idempotency-Key": str(uuid.uuid4())},
            json={"points": 30, "reason": "抽奖红包"},
        )
        assert funded.status_code == 201, funded.text
        drop = client.post(
            f"{AC}/drops",
            headers=owner,
            json={"community_id": cid, "total_points": 30, "slots": 1, "split": "equal"},
        )
        assert drop.status_code == 201, drop.text
        claimer = f"b-{suffix}"
        claim = client.post(f"{AC}/drops/{drop.json()['id']}/claims", headers=members[claimer])
        assert claim.status_code == 201 and claim.json()["points"] == 30
        late = client.post(f"{AC}/drops/{drop.json()['id']}/claims", headers=members[f"a-{suffix}"])
        assert late.status_code == 409
        share = eventually(lambda: credited(claimer, "claimed-drop"), "rewards paid the share")
        assert [e["points"] for e in share] == [30]


def test_a_drop_is_paid_from_the_operators_budget_and_its_rest_goes_back(
    platform: Platform, tenant: Tenant
) -> None:
    """Through the gateway: the owner funds the budget; a drop reserves its total; two
    members claim and are paid from it; the drop expires (activities' clock set back so
    that it does within seconds, never slept) and the rest goes back to the budget. A
    drop the budget cannot cover is refused by rewards and closed by activities."""
    clock = Path(platform.env_for("activities")["QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            community = client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"hb-{suffix}", "name": "红包群", "timezone": "Asia/Shanghai"},
            )
            assert community.status_code == 201, community.text
            cid = community.json()["id"]
            members = {}
            for name in ("a", "b", "c"):
                minted = client.post(
                    "/v1/member-tokens",
                    headers={"X-Api-Key": tenant.api_key},
                    json={"external_id": f"{name}-{suffix}", "profile": {"display_name": name}},
                )
                members[name] = bearer(minted.json()["access_token"])
                joined = client.post(f"{OB}/communities/{cid}/join", headers=members[name])
                assert joined.status_code == 201, joined.text

            def budget() -> dict[str, int]:
                answer = client.get("/v1/rewards/budget", headers=owner)
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            before = budget()
            funded = client.post(
                "/v1/rewards/budget/fundings",
                headers={**owner, "Idempotency-Key": str(uuid.uuid4())},
                json={"points": 100, "reason": "月度红包预算"},
            )
            assert funded.status_code == 201, funded.text
            # Made 59.5 min "ago" on activities' clock: it expires 30 s from now.
            clock.write_text(str(-(3600 - 30)))
            body = {
                "community_id": cid,
                "total_points": 60,
                "slots": 3,
                "split": "equal",
                "expires_in_minutes": 60,
            }
            drop = eventually(
                lambda: (
                    (a := client.post(f"{AC}/drops", headers=owner, json=body)).status_code == 201
                    and a.json()
                ),
                "activities saw the community",
            )
            for name in ("a", "b"):
                claim = eventually(
                    lambda n=name: (
                        (
                            a := client.post(f"{AC}/drops/{drop['id']}/claims", headers=members[n])
                        ).status_code
                        == 201
                        and a.json()
                    ),
                    "activities saw the membership",
                )
                assert claim["points"] == 20
            clock.write_text("0")

            def paid(name: str) -> list[int]:
                items = client.get("/v1/rewards/me/entries", headers=members[name]).json()
                return [e["points"] for e in items["items"] if e["rule_id"] == "claimed-drop"]

            assert eventually(lambda: paid("a"), "rewards paid a's share") == [20]
            assert eventually(lambda: paid("b"), "rewards paid b's share") == [20]
            expected = {
                "available": before["available"] + 100 - 40,
                "reserved": before["reserved"],
                "funded": before["funded"] + 100,
                "paid": before["paid"] + 40,
            }
            eventually(lambda: budget() == expected, "the rest went back", timeout_s=60)
            entries = client.get(
                "/v1/rewards/budget/entries", params={"drop_id": drop["id"]}, headers=owner
            ).json()["items"]
            assert sorted(e["kind"] for e in entries) == ["pay", "pay", "release", "reserve"]
            assert sum(e["available_delta"] + e["reserved_delta"] for e in entries) == -40

            # More than the budget holds: refused by rewards, closed by activities.
            huge = {"community_id": cid, "total_points": 1_000_000, "slots": 1, "split": "equal"}
            refused = client.post(f"{AC}/drops", headers=owner, json=huge)
            assert refused.status_code == 201, refused.text
            eventually(
                lambda: client.get(f"{AC}/drops/{refused.json()['id']}", headers=owner).json()[
                    "expired_at"
                ],
                "activities closed the refused drop",
            )
            late = client.post(f"{AC}/drops/{refused.json()['id']}/claims", headers=members["c"])
            assert late.status_code == 409, late.text
            assert budget() == expected
    finally:
        clock.write_text("0")


def test_seven_days_a_make_up_card_completion_badge_and_a_quiz(
    platform: Platform, tenant: Tenant
) -> None:
    """Through the gateway, days moved on activities' development clock (never slept): a
    member misses the challenge's first day, checks in 7 days in a row, spends a make-up
    card on the missed day and completes the challenge (8 of 10 days); rewards credits 7
    check-ins (the make-up's day is capped), the completion bonus, the 7-day badge; a quiz
    pays per correct answer."""
    clock = Path(platform.env_for("activities")["QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    member_id = f"early-{suffix}"
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            community = client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"seven-{suffix}", "name": "七天", "timezone": "Asia/Shanghai"},
            )
            assert community.status_code == 201, community.text
            cid = community.json()["id"]
            minted = client.post(
                "/v1/member-tokens",
                headers={"X-Api-Key": tenant.api_key},
                json={"external_id": member_id, "profile": {"display_name": "早起"}},
            )
            member = bearer(minted.json()["access_token"])
            assert client.post(f"{OB}/communities/{cid}/join", headers=member).status_code == 201
            body = {
                "community_id": cid,
                "title": "七天打卡",
                "start_date": (today - timedelta(days=1)).isoformat(),
                "end_date": (today + timedelta(days=8)).isoformat(),
                "required_days": 8,
                "makeup_cards": 1,
                "makeup_days": 3,
            }
            challenge = eventually(
                lambda: (
                    (a := client.post(f"{AC}/challenges", headers=owner, json=body)).status_code
                    == 201
                    and a.json()
                ),
                "activities saw the community",
            )
            url = f"{AC}/challenges/{challenge['id']}"
            eventually(
                lambda: client.post(f"{url}/checkins", headers=member, json={}).status_code == 201,
                "activities saw the membership",
            )
            made_up = client.post(
                f"{url}/makeups", headers=member, json={"day": body["start_date"]}
            )
            assert made_up.status_code == 201, made_up.text
            for day in range(1, 7):
                clock.write_text(str(day * DAY_S))
                answer = client.post(f"{url}/checkins", headers=member, json={})
                assert answer.status_code == 201, answer.text
            calendar = client.get(f"{url}/calendar", headers=member).json()
            assert calendar["streak"] == 8  # the made-up day joins the seven

            question = client.post(
                f"{AC}/questions",
                headers=owner,
                json={"kind": "true_false", "prompt": "打卡要坚持吗?", "answer": True},
            )
            assert question.status_code == 201, question.text
            now = datetime.now(UTC) + timedelta(days=6)
            quiz = client.post(
                f"{AC}/quizzes",
                headers=owner,
                json={
                    "community_id": cid,
                    "title": "小测",
                    "question_ids": [question.json()["id"]],
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "closes_at": (now + timedelta(days=1)).isoformat(),
                },
            )
            assert quiz.status_code == 201, quiz.text
            attempt = client.post(f"{AC}/quizzes/{quiz.json()['id']}/attempts", headers=member)
            assert attempt.status_code == 201, attempt.text
            submitted = client.post(
                f"{AC}/quizzes/{quiz.json()['id']}/attempts/{attempt.json()['id']}/submit",
                headers=member,
                json={"answers": {question.json()["id"]: True}},
            )
            assert submitted.status_code == 200, submitted.text

            def entries() -> dict[str, list[int]]:
                items = client.get("/v1/rewards/me/entries", headers=member).json()["items"]
                found: dict[str, list[int]] = {}
                for e in items:
                    found.setdefault(e["rule_id"], []).append(e["points"])
                return found

            credited = eventually(
                lambda: (
                    (found := entries()).get("completed-challenge")
                    and len(found.get("daily-check-in", [])) == 7
                    and found.get("correct-answers")
                    and found
                ),
                "rewards credited the check-ins, the completion and the quiz",
                timeout_s=60,
            )
            assert credited["daily-check-in"] == [2] * 7  # the make-up's day was paid already
            assert credited["completed-challenge"] == [20]
            assert credited["correct-answers"] == [5]

            def badge() -> Any:
                items = client.get("/v1/rewards/me/badges", headers=member).json()["items"]
                found = [b for b in items if b["badge_id"] == "check-in-streak-7"]
                return found and found[0]["earned"] and found[0]

            assert eventually(badge, "the 7-day badge")["times"] == 1
    finally:
        clock.write_text("0")


def test_a_contest_awards_its_top_three_once_even_if_its_timer_fires_twice(
    platform: Platform, tenant: Tenant
) -> None:
    """Through the gateway: four members check in to three challenges on one local day; a
    contest over that day ranks them (a tie going to who got there first). Activities'
    development clock then moves past the day's end, so its end timer fires and awards the
    top 3; the operator's settlement, the same work a second firing does, changes nothing;
    rewards credits each place's points once."""
    clock = Path(platform.env_for("activities")["QUANZI_ACTIVITIES_CLOCK_OFFSET_FILE"])
    suffix = uuid.uuid4().hex[:8]
    shanghai = ZoneInfo("Asia/Shanghai")
    today = datetime.now(UTC).astimezone(shanghai).date()
    try:
        with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
            owner = bearer(tenant.owner_token)
            community = client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": f"star-{suffix}", "name": "月度之星", "timezone": "Asia/Shanghai"},
            )
            assert community.status_code == 201, community.text
            cid = community.json()["id"]
            members: dict[str, dict[str, str]] = {}
            for name in ("gold", "silver", "bronze", "fourth"):
                member_id = f"{name}-{suffix}"
                minted = client.post(
                    "/v1/member-tokens",
                    headers={"X-Api-Key": tenant.api_key},
                    json={"external_id": member_id, "profile": {"display_name": name}},
                )
                members[member_id] = bearer(minted.json()["access_token"])
                joined = client.post(f"{OB}/communities/{cid}/join", headers=members[member_id])
                assert joined.status_code == 201, joined.text
            gold, silver, bronze, fourth = members

            def new_challenge(i: int) -> Any:
                body = {
                    "community_id": cid,
                    "title": f"打卡 {i}",
                    "start_date": (today - timedelta(days=1)).isoformat(),
                    "end_date": (today + timedelta(days=5)).isoformat(),
                    "required_days": 3,
                }
                answer = client.post(f"{AC}/challenges", headers=owner, json=body)
                return answer.status_code == 201 and answer.json()["id"]

            challenges = [
                eventually(lambda i=i: new_challenge(i), "activities saw the community")
                for i in range(3)
            ]
            contest_body = {
                "community_id": cid,
                "title": "今日打卡之星",
                "metric": "checkins",
                "start_date": today.isoformat(),
                "end_date": today.isoformat(),
                "awards": [{"points": 300, "badge": "冠军"}, {"points": 200}, {"points": 100}],
            }
            contest = client.post(f"{AC}/contests", headers=owner, json=contest_body)
            assert contest.status_code == 201, contest.text
            contest_id = contest.json()["id"]

            def check_in(member: str, challenge_id: str) -> bool:
                url = f"{AC}/challenges/{challenge_id}/checkins"
                return client.post(url, headers=members[member], json={}).status_code == 201

            # gold 3, silver 2, bronze 1, fourth 1 after bronze: bronze takes the tie.
            for member, count in ((gold, 3), (silver, 2), (bronze, 1), (fourth, 1)):
                for challenge_id in challenges[:count]:
                    eventually(
                        lambda m=member, c=challenge_id: check_in(m, c),
                        "activities saw the membership",
                    )
            standings = client.get(f"{AC}/contests/{contest_id}/standings", headers=owner)
            assert standings.status_code == 200, standings.text
            assert [(s["member_id"], s["score"]) for s in standings.json()["standings"]] == [
                (gold, 3),
                (silver, 2),
                (bronze, 1),
                (fourth, 1),
            ]

            ends_at = datetime.fromisoformat(contest.json()["ends_at"])
            clock.write_text(str((ends_at - datetime.now(UTC)).total_seconds() + 5))

            def finished() -> Any:
                found = client.get(f"{AC}/contests/{contest_id}", headers=owner).json()
                return found["status"] == "finished" and found

            settled = eventually(finished, "the end timer settled the contest")
            again = client.post(f"{AC}/contests/{contest_id}/finish", headers=owner)
            assert again.status_code == 200, again.text
            assert again.json()["finished_at"] == settled["finished_at"]
            final = client.get(f"{AC}/contests/{contest_id}/standings", headers=owner).json()
            assert [(p["member_id"], p["points"]) for p in final["awarded"]] == [
                (gold, 300),
                (silver, 200),
                (bronze, 100),
            ]
            mine = client.get(f"{AC}/contests/{contest_id}/me", headers=members[fourth]).json()
            assert (mine["place"], mine["award"]) == (4, None)

            def credited(member: str) -> list[int]:
                items = client.get("/v1/rewards/me/entries", headers=members[member]).json()
                return [e["points"] for e in items["items"] if e["rule_id"] == "contest-award"]

            for member, points in ((gold, 300), (silver, 200), (bronze, 100)):
                assert eventually(lambda m=member: credited(m), f"{member} credited") == [points]
            assert credited(fourth) == []
            assert [credited(m) for m in (gold, silver, bronze)] == [[300], [200], [100]]
    finally:
        clock.write_text("0")


def test_a_talk_announces_itself_and_its_attendance_pays_once(
    platform: Platform, tenant: Tenant
) -> None:
    """Through the gateway: a talk about to start; a member's front end reports their
    attendance three times as they stay; activities keeps the longest, sends
    talk.attended once, and rewards credits the attended-talk rule once."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        community = client.post(
            f"{OB}/communities",
            headers=owner,
            json={"slug": f"ama-{suffix}", "name": "AMA", "timezone": "Asia/Shanghai"},
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]
        minted = client.post(
            "/v1/member-tokens",
            headers={"X-Api-Key": tenant.api_key},
            json={"external_id": f"fan-{suffix}", "profile": {"display_name": "fan"}},
        )
        member = bearer(minted.json()["access_token"])
        assert client.post(f"{OB}/communities/{cid}/join", headers=member).status_code == 201
        starts = datetime.now(UTC) + timedelta(minutes=5)
        body = {
            "community_id": cid,
            "title": "嘉宾分享",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
        }
        talk = eventually(
            lambda: (
                (a := client.post(f"{AC}/talks", headers=owner, json=body)).status_code == 201
                and a.json()
            ),
            "activities saw the community",
        )
        url = f"{AC}/talks/{talk['id']}/attendance"
        first = eventually(
            lambda: (
                (a := client.put(url, headers=member, json={"minutes": 12})).status_code == 200
                and a.json()
            ),
            "activities saw the membership",
        )
        assert first["minutes"] == 12
        for minutes in (40, 25):
            answer = client.put(url, headers=member, json={"minutes": minutes})
            assert answer.status_code == 200, answer.text
        assert answer.json()["minutes"] == 40

        def credited() -> list[int]:
            items = client.get("/v1/rewards/me/entries", headers=member).json()["items"]
            return [e["points"] for e in items if e["rule_id"] == "attended-talk"]

        assert eventually(credited, "rewards credited the attendance") == [5]
        assert credited() == [5]
