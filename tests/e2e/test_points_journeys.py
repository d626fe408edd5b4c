"""Points across services, over real HTTP and Kafka: a member joins by an invite →
onboarding publishes the activation → rewards credits the join bonus and the
inviter's referral → rewards publishes level.changed → onboarding lets the inviter,
and not the newcomer, into a level-gated community."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def member(client: httpx.Client, tenant: Tenant, external_id: str) -> dict[str, str]:
    minted = client.post(
        "/v1/member-tokens",
        headers={"X-Api-Key": tenant.api_key},
        json={"external_id": external_id},
    )
    assert minted.status_code == 201, minted.text
    return bearer(minted.json()["access_token"])


def eventually(read: Callable[[], Any], expected: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    seen = read()
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.3)
        seen = read()
    assert seen == expected


def test_invite_credits_both_members_and_levels_open_a_gated_community(
    platform: Platform, tenant: Tenant
) -> None:
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        community = client.post(
            f"{OB}/communities", headers=owner, json={"slug": f"runners-{suffix}", "name": "跑步群"}
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]
        host_id, newbie_id = f"host-{suffix}", f"newbie-{suffix}"
        host, newbie = member(client, tenant, host_id), member(client, tenant, newbie_id)
        assert client.post(f"{OB}/communities/{cid}/join", headers=host).status_code == 201
        invite = client.post(
            f"{OB}/invites",
            headers=owner,
            json={"community_id": cid, "inviter_id": host_id, "channel": "wechat-moments"},
        )
        assert invite.status_code == 201, invite.text
        joined = client.post(f"{OB}/invites/{invite.json()['code']}/redeem", headers=newbie)
        assert joined.status_code == 201, joined.text

        def available(headers: dict[str, str]) -> Any:
            summary = client.get("/v1/rewards/me/summary", headers=headers)
            return summary.json().get("available") if summary.status_code == 200 else None

        # Open community, no refund window: bonuses are available at once.
        eventually(lambda: available(newbie), 10)  # join bonus
        eventually(lambda: available(host), 30)  # own join bonus + referral

        gated = client.post(
            f"{OB}/communities",
            headers=owner,
            json={"slug": f"club-{suffix}", "name": "精英俱乐部", "min_level": 3},
        )
        assert gated.status_code == 201, gated.text
        gid = gated.json()["id"]
        refused = client.post(f"{OB}/communities/{gid}/join", headers=newbie)
        assert refused.status_code == 403 and refused.json()["type"].endswith("/level-required")
        # 30 lifetime points is level 3: rewards → Kafka → onboarding's level projection.
        eventually(
            lambda: (
                client.post(f"{OB}/communities/{gid}/join", headers=host).status_code in (200, 201)
            ),
            True,
        )


def test_refund_inside_the_window_reverses_the_pending_bonuses(
    platform: Platform, tenant: Tenant
) -> None:
    """Paid community, 72 h refund window: the join bonus and the referral wait as pending
    points; the invitee's refund reaches rewards over Kafka and takes both back."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        key = client.post(
            "/v1/api-keys", headers=owner, json={"name": "billing", "scopes": ["payments:write"]}
        )
        assert key.status_code == 201, key.text
        billing = {"X-Api-Key": key.json()["key"]}
        community = client.post(
            f"{OB}/communities",
            headers=owner,
            json={
                "slug": f"paid-{suffix}",
                "name": "写作营",
                "join_policy": "paid",
                "price_cents": 9900,
                "currency": "CNY",
                "term_kind": "rolling",
                "term_days": 30,
                "refund_window_hours": 72,
            },
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]

        def pay(member_id: str) -> dict[str, Any]:
            paid = client.post(
                f"{OB}/payments",
                headers={**billing, "Idempotency-Key": f"pay-{member_id}"},
                json={
                    "reference": f"wx-{member_id}",
                    "community_id": cid,
                    "member_id": member_id,
                    "amount_cents": 9900,
                    "currency": "CNY",
                },
            )
            assert paid.status_code == 201, paid.text
            return dict(paid.json()["membership"])

        host_id, newbie_id = f"host-{suffix}", f"newbie-{suffix}"
        host, newbie = member(client, tenant, host_id), member(client, tenant, newbie_id)
        assert pay(host_id)["status"] == "active"
        invite = client.post(
            f"{OB}/invites", headers=owner, json={"community_id": cid, "inviter_id": host_id}
        )
        assert invite.status_code == 201, invite.text
        redeemed = client.post(f"{OB}/invites/{invite.json()['code']}/redeem", headers=newbie)
        assert redeemed.status_code == 201, redeemed.text
        assert redeemed.json()["status"] == "pending_payment"
        membership = pay(newbie_id)
        assert membership["source"]["inviter_id"] == host_id

        def points(headers: dict[str, str]) -> Any:
            summary = client.get("/v1/rewards/me/summary", headers=headers)
            if summary.status_code != 200:
                return None
            body = summary.json()
            return body["available"], body["pending"], body["lifetime"]

        # Pending through the refund window: nothing to spend yet.
        eventually(lambda: points(newbie), (0, 10, 10))  # join bonus
        eventually(lambda: points(host), (0, 30, 30))  # own join bonus + referral

        refunded = client.post(
            f"{OB}/memberships/{membership['id']}/refund",
            headers={**billing, "Idempotency-Key": f"refund-{membership['id']}"},
            json={"reason": "不合适"},
        )
        assert refunded.status_code == 200, refunded.text
        eventually(lambda: points(newbie), (0, 0, 0))
        eventually(lambda: points(host), (0, 10, 10))  # the referral is gone, the own bonus stays


def end_trial_now(platform: Platform, membership_id: str) -> None:
    """The platform has no movable clock: move this one trial's end (and its expiry timer,
    which the onboarding process polls every second) into the past, in onboarding's own
    database, as a clock 7 days ahead would see them. The real timer then ends it."""
    if "onboarding" in platform.database_urls:
        pytest.skip("moves the trial's end in the SQLite database of `make run`")
    past = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)
    stamp = past.isoformat(sep=" ", timespec="microseconds")
    with closing(sqlite3.connect(platform.var_dir / "onboarding.db", timeout=30)) as db, db:
        db.execute("UPDATE memberships SET term_ends_at = ? WHERE id = ?", (stamp, membership_id))
        moved = db.execute(
            "UPDATE timers SET due_at = ? WHERE kind = 'membership.expiry' AND key = ?",
            (stamp, membership_id),
        )
        assert moved.rowcount == 1


def test_trial_join_points_wait_for_the_payment_and_go_when_the_trial_ends_unpaid(
    platform: Platform, tenant: Tenant
) -> None:
    """7-day trial, no refund window after paying: the join bonus and the referral are
    pending from the trial's start; the paid trial releases them; a trial left, and one
    that runs out, unpaid reverse them, each reversal naming the entry it takes back."""
    suffix = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        key = client.post(
            "/v1/api-keys", headers=owner, json={"name": "billing", "scopes": ["payments:write"]}
        )
        assert key.status_code == 201, key.text
        billing = {"X-Api-Key": key.json()["key"]}
        community = client.post(
            f"{OB}/communities",
            headers=owner,
            json={
                "slug": f"trial-{suffix}",
                "name": "早起营",
                "join_policy": "paid",
                "price_cents": 9900,
                "currency": "CNY",
                "term_kind": "rolling",
                "term_days": 30,
                "trial_days": 7,
                "refund_window_hours": 0,
            },
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]
        host_id = f"host-{suffix}"
        host = member(client, tenant, host_id)
        paid = client.post(
            f"{OB}/payments",
            headers={**billing, "Idempotency-Key": f"pay-{host_id}"},
            json={
                "reference": f"wx-{host_id}",
                "community_id": cid,
                "member_id": host_id,
                "amount_cents": 9900,
                "currency": "CNY",
            },
        )
        assert paid.status_code == 201, paid.text
        invite = client.post(
            f"{OB}/invites",
            headers=owner,
            json={"community_id": cid, "inviter_id": host_id, "max_uses": 3},
        )
        assert invite.status_code == 201, invite.text
        code = invite.json()["code"]

        def points(headers: dict[str, str]) -> Any:
            summary = client.get("/v1/rewards/me/summary", headers=headers)
            if summary.status_code != 200:
                return None
            body = summary.json()
            return body["available"], body["pending"], body["lifetime"]

        def start_trial(name: str) -> tuple[dict[str, str], dict[str, Any]]:
            headers = member(client, tenant, f"{name}-{suffix}")
            joined = client.post(f"{OB}/invites/{code}/redeem", headers=headers)
            assert joined.status_code == 201, joined.text
            assert joined.json()["status"] == "trial"
            return headers, dict(joined.json())

        eventually(lambda: points(host), (10, 0, 10))  # paid, no window: available at once

        # 1. A trial: both bonuses pending (held), however the trial goes on.
        payer, payer_trial = start_trial("payer")
        eventually(lambda: points(payer), (0, 10, 10))
        eventually(lambda: points(host), (10, 20, 30))
        # ... then paid: released (the window of this payment is already over).
        pays = client.post(
            f"{OB}/payments",
            headers={**billing, "Idempotency-Key": f"pay-{suffix}-payer"},
            json={
                "reference": f"wx-payer-{suffix}",
                "community_id": cid,
                "member_id": f"payer-{suffix}",
                "amount_cents": 9900,
                "currency": "CNY",
            },
        )
        assert pays.status_code == 201, pays.text
        assert pays.json()["membership"]["id"] == payer_trial["id"]
        eventually(lambda: points(payer), (10, 0, 10))
        eventually(lambda: points(host), (30, 0, 30))

        # 2. A trial left before paying: its bonuses are reversed.
        leaver, _ = start_trial("leaver")
        eventually(lambda: points(host), (30, 20, 50))
        left = client.post(f"{OB}/communities/{cid}/leave", headers=leaver)
        assert left.status_code == 200 and left.json()["status"] == "left", left.text
        eventually(lambda: points(leaver), (0, 0, 0))
        eventually(lambda: points(host), (30, 0, 30))

        # 3. A trial that runs out unpaid: the expiry timer ends it, rewards reverses.
        lapsed, lapsed_trial = start_trial("lapsed")
        eventually(lambda: points(lapsed), (0, 10, 10))
        eventually(lambda: points(host), (30, 20, 50))
        end_trial_now(platform, lapsed_trial["id"])

        def status() -> Any:
            mine = client.get(f"{OB}/me/memberships", headers=lapsed).json()["items"]
            return [m["status"] for m in mine if m["community_id"] == cid]

        eventually(status, ["expired"])
        eventually(lambda: points(lapsed), (0, 0, 0))
        eventually(lambda: points(host), (30, 0, 30))

        # Each reversal names the credit it takes back, in the member's history.
        history = client.get("/v1/rewards/me/entries", headers=lapsed).json()["items"]
        reversal, earned = history
        assert (reversal["kind"], earned["kind"]) == ("reverse", "earn")
        assert reversal["reverses_entry_id"] == earned["id"]
        assert earned["rule_id"] == "join-bonus" and reversal["points"] == -10
        host_history = client.get("/v1/rewards/me/entries", headers=host).json()["items"]
        reversals = [e for e in host_history if e["kind"] == "reverse"]
        referrals = {e["id"] for e in host_history if e["rule_id"] == "referral"}
        assert len(reversals) == 2 and {e["reverses_entry_id"] for e in reversals} <= referrals
