"""Paid communities: payment confirmation, trial, renewal, refund window, term expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from onboarding.payments.service import expire_membership
from onboarding.payments.timers import EXPIRY_TIMER
from servicekit.timers import TimerRunner
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"
REFUNDED = "quanzi.onboarding.membership.refunded.v1"


async def test_pay_then_refund_inside_the_window(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community()
    requested = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member("crm-1")
    )
    assert requested.json()["status"] == "pending_payment"
    paid = await onboarding.pay(community["id"], "crm-1", "pay-001", key="k-1")
    assert paid.status_code == 201, paid.text
    membership = paid.json()["membership"]
    assert membership["status"] == "active" and membership["tier"] == "core"
    window = datetime.fromisoformat(membership["refund_window_ends_at"])
    assert timedelta(hours=71) < window - utcnow() <= timedelta(hours=72)
    replay = await onboarding.pay(community["id"], "crm-1", "pay-001", key="k-1")
    assert replay.json() == paid.json() and replay.headers["Idempotent-Replayed"] == "true"
    [activated] = await onboarding.events(ACTIVATED)
    assert activated.data["source"]["kind"] == "open"
    assert datetime.fromisoformat(activated.data["refund_window_ends_at"]) == window

    refund_url = f"{BASE}/memberships/{membership['id']}/refund"
    refunded = await onboarding.client.post(
        refund_url, json={"reason": "changed my mind"}, headers=onboarding.payments()
    )
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded"
    [event] = await onboarding.events(REFUNDED)
    assert event.data["reason"] == "changed my mind" and event.key == "crm-1"
    again = await onboarding.client.post(refund_url, json={}, headers=onboarding.payments())
    assert again.status_code == 409


async def test_payment_input_is_checked(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community()
    open_one = await onboarding.community(slug="free-club")
    assert (await onboarding.pay(community["id"], "crm-1", "p1", amount_cents=1)).status_code == 422
    assert (await onboarding.pay(community["id"], "crm-1", "p1", currency="USD")).status_code == 422
    assert (await onboarding.pay(open_one["id"], "crm-1", "p1")).status_code == 422
    assert (await onboarding.pay("no-such-id", "crm-1", "p1")).status_code == 404
    assert (await onboarding.pay(community["id"], "crm-1", "p1", extra=1)).status_code == 422
    assert (await onboarding.pay(community["id"], "crm-1", "p1", key="x" * 300)).status_code == 400
    assert await onboarding.events(ACTIVATED) == []  # nothing half-written
    assert (await onboarding.pay(community["id"], "crm-1", "p1", key="a")).status_code == 201
    reused = await onboarding.pay(community["id"], "crm-2", "p2", key="a")
    assert reused.status_code == 422  # same key, different request
    duplicate = await onboarding.pay(community["id"], "crm-2", "p1", key="b")
    assert duplicate.status_code == 409  # the reference was already confirmed
    body = {
        "reference": "p9",
        "community_id": community["id"],
        "member_id": "crm-3",
        "amount_cents": 9900,
        "currency": "CNY",
    }
    keyless = await onboarding.client.post(
        f"{BASE}/payments", json=body, headers=onboarding.payments(), extensions={"keyless": True}
    )
    assert keyless.status_code == 400, keyless.text  # a retry could pay twice
    assert keyless.json()["type"].endswith("/idempotency-key-required")
    paid_memberships = await onboarding.client.get(
        f"{BASE}/memberships", params={"member_id": "crm-3"}, headers=onboarding.operator()
    )
    assert paid_memberships.json()["items"] == []
    for headers in (
        onboarding.operator(),
        onboarding.member("crm-3"),
        onboarding.payments(scope="members:write"),
    ):
        answer = await onboarding.client.post(f"{BASE}/payments", json=body, headers=headers)
        assert answer.status_code == 403, answer.text


async def test_refund_outside_the_window_is_refused(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(refund_window_hours=0)
    paid = await onboarding.pay(community["id"], "crm-1", "pay-1")
    membership_id = paid.json()["membership"]["id"]
    refused = await onboarding.client.post(
        f"{BASE}/memberships/{membership_id}/refund", json={}, headers=onboarding.operator()
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/refund-window-closed")
    assert await onboarding.events(REFUNDED) == []
    as_operator = onboarding.operator(roles=("operator",))
    forbidden = await onboarding.client.post(
        f"{BASE}/memberships/{membership_id}/refund", json={}, headers=as_operator
    )
    assert forbidden.status_code == 403


async def test_trial_then_payment_then_renewal(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(trial_days=7, term_days=30)
    trial = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member("crm-1")
    )
    assert trial.json()["status"] == "trial" and trial.json()["tier"] == "trial"
    paid = (await onboarding.pay(community["id"], "crm-1", "p1")).json()["membership"]
    assert paid["status"] == "active" and paid["tier"] == "core"
    renewed = (await onboarding.pay(community["id"], "crm-1", "p2")).json()["membership"]
    first_end = datetime.fromisoformat(paid["term_ends_at"])
    assert datetime.fromisoformat(renewed["term_ends_at"]) == first_end + timedelta(days=30)
    started, upgraded = await onboarding.events(ACTIVATED)
    assert [started.data["tier"], upgraded.data["tier"]] == ["trial", "core"]
    # What rewards needs to hold the trial's points, then to release them after the
    # payment's refund window: the trial's end, and that this activation paid a trial.
    trial_end = datetime.fromisoformat(trial.json()["term_ends_at"])
    assert datetime.fromisoformat(started.data["trial_ends_at"]) == trial_end
    assert started.data["refund_window_ends_at"] is None and started.data["previous_tier"] is None
    assert upgraded.data["trial_ends_at"] is None and upgraded.data["previous_tier"] == "trial"
    window = datetime.fromisoformat(paid["refund_window_ends_at"])
    assert datetime.fromisoformat(upgraded.data["refund_window_ends_at"]) == window
    [event] = await onboarding.events("quanzi.onboarding.membership.renewed.v1")
    assert datetime.fromisoformat(event.data["term_ends_at"]) == first_end + timedelta(days=30)


async def test_trial_and_term_expire_by_timer(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(trial_days=3, term_days=30)
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member("crm-1")
    )
    await onboarding.pay(community["id"], "crm-2", "p2")
    runner = TimerRunner(onboarding.sessions, {EXPIRY_TIMER: expire_membership})
    assert await runner.fire_due(utcnow() + timedelta(days=4)) == 1  # the trial
    assert await runner.fire_due(utcnow() + timedelta(days=31)) == 1  # the paid term
    expired = await onboarding.events("quanzi.onboarding.membership.expired.v1")
    assert [(e.data["member_id"], e.data["tier"]) for e in expired] == [
        ("crm-1", "trial"),
        ("crm-2", "core"),
    ]
    # The expired member pays again: active again, and no second free trial on re-join.
    again = await onboarding.pay(community["id"], "crm-2", "p3")
    assert again.json()["membership"]["status"] == "active"
    rejoin = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member("crm-1")
    )
    assert rejoin.json()["status"] == "pending_payment"


async def test_a_trial_member_who_leaves_says_so(onboarding: Onboarding) -> None:
    """The end of a membership carries its tier: rewards reverses a trial's join points
    when it ends unpaid, and keeps a paid member's."""
    community = await onboarding.paid_community(trial_days=7, term_days=30)
    for member in ("crm-1", "crm-2"):
        await onboarding.client.post(
            f"{BASE}/communities/{community['id']}/join", headers=onboarding.member(member)
        )
    await onboarding.pay(community["id"], "crm-2", "p2")
    for member in ("crm-1", "crm-2"):
        left = await onboarding.client.post(
            f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member(member)
        )
        assert left.json()["status"] == "left", left.text
    events = await onboarding.events("quanzi.onboarding.membership.left.v1")
    assert [(e.data["member_id"], e.data["tier"]) for e in events] == [
        ("crm-1", "trial"),
        ("crm-2", "core"),
    ]
