"""Referral campaigns on both backends, fed by onboarding's membership events the way the
consumer applies them, with the settle timer on the test clock: a 任务宝 where A invites
B, C, D and D refunds inside the window; paid counting with clawback; self-invites and
cycles flagged and withheld until an operator clears them; the leaderboard."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from activities import app as activities_app
from servicekit.consumer import apply_run
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.testing import contracts
from servicekit.timers import TimerRunner

from .conftest import AC, T0, TENANT, membership_event

CONVERTED = "quanzi.activities.referral.converted.v1"
REACHED = "quanzi.activities.referral.tier_reached.v1"
REVOKED = "quanzi.activities.referral.revoked.v1"
WINDOW = timedelta(days=3)


def invited(invitee: str, inviter: str | None, at: datetime, *, paid: bool = True) -> Event:
    return membership_event(
        "activated",
        invitee,
        at=at,
        refund_window_ends_at=(at + WINDOW).isoformat() if paid else None,
        source={"kind": "invite", "code": "K7P2", "channel": "poster", "inviter_id": inviter},
    )


def refunded(invitee: str, at: datetime) -> Event:
    return Event(
        type="quanzi.onboarding.membership.refunded.v1",
        source="/onboarding",
        tenant_id=TENANT,
        topic="onboarding.memberships",
        key=invitee,
        time=at,
        data={
            "tenant_id": TENANT,
            "membership_id": f"ms-{invitee}-c-1",
            "member_id": invitee,
            "community_id": "c-1",
            "refunded_at": at.isoformat(),
        },
    )


async def deliver(api: Any, *events: Event) -> None:
    """Each event through both consumers of onboarding.memberships, as the runners do."""
    for event in events:
        contracts().validate(event)
        for spec in (activities_app.MEMBERS, activities_app.REFERRALS):
            handler = spec.handlers.get(event.type)
            if handler is not None:
                async with transaction(api.app.state.sessions) as session:
                    await apply_run(handler, session, [event])


async def new_campaign(api: Any, **body: Any) -> dict[str, Any]:
    body = {
        "community_id": "c-1",
        "title": "邀请 3 位好友, 课程免费",
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(days=14)).isoformat(),
        "tiers": [
            {"invites": 3, "points": 100},
            {"invites": 5, "points": 300, "badge": "裂变达人"},
        ],
        **body,
    }
    answer = await api.client.post(f"{AC}/referrals", json=body, headers=api.operator())
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def progress(api: Any, campaign: dict[str, Any], member: str) -> dict[str, Any]:
    answer = await api.client.get(
        f"{AC}/referrals/{campaign['id']}/progress", headers=api.member(member)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def runner(api: Any) -> TimerRunner:
    return TimerRunner(api.app.state.sessions, activities_app.TIMERS)


async def test_a_tier_waits_for_the_window_and_a_refund_inside_it_never_counts(api: Any) -> None:
    await api.seat("A")
    campaign = await new_campaign(api)
    hour = timedelta(hours=1)
    await deliver(
        api,
        invited("B", "A", T0 + hour),
        invited("C", "A", T0 + 2 * hour),
        invited("D", "A", T0 + 3 * hour),
        invited("X", None, T0 + 3 * hour),  # not invited: nothing
    )
    mine = await progress(api, campaign, "A")
    assert mine["counted"] == 0 and mine["pending"] == 3 and mine["invites_to_next"] == 3
    await deliver(api, refunded("D", T0 + timedelta(days=1)))
    assert (await progress(api, campaign, "A"))["pending"] == 2
    # The windows end: B and C count (one timer each; D's was cancelled); no tier (2 < 3).
    assert await runner(api).fire_due(now=T0 + WINDOW + 3 * hour) == 2
    mine = await progress(api, campaign, "A")
    assert mine["counted"] == 2 and mine["tiers_granted"] == []
    assert [e.data["invitee_id"] for e in await api.published(CONVERTED)] == ["B", "C"]
    assert await api.published(REACHED) == []
    # A fourth invitee, E, past her window: the tier is granted, once.
    await deliver(api, invited("E", "A", T0 + timedelta(days=4)))
    assert await runner(api).fire_due(now=T0 + timedelta(days=7, hours=1)) == 1
    assert await runner(api).fire_due(now=T0 + timedelta(days=9)) == 0
    [reached] = await api.published(REACHED)
    assert reached.data["member_id"] == "A" and reached.data["points"] == 100
    assert reached.data["tier"] == 0 and reached.data["grant"] == 1 and reached.key == "A"
    assert (await progress(api, campaign, "A"))["tiers_granted"] == [0]
    assert await api.published(REVOKED) == []  # past the window: never taken back
    board = await api.client.get(
        f"{AC}/referrals/{campaign['id']}/leaderboard", headers=api.member("A")
    )
    assert board.json() == [{"rank": 1, "member_id": "A", "counted": 3}]


async def test_paid_counting_grants_at_once_and_claws_back_on_a_refund(api: Any) -> None:
    await new_campaign(api, counting="paid", tiers=[{"invites": 2, "points": 50}])
    await deliver(
        api,
        invited("B", "A", T0 + timedelta(hours=1)),
        invited("C", "A", T0 + timedelta(hours=2)),
        invited("F", "A", T0 + timedelta(hours=3), paid=False),  # a free join: not paid
    )
    [granted] = await api.published(REACHED)
    assert granted.data["grant"] == 1
    await deliver(api, refunded("C", T0 + timedelta(days=1)))
    [revoked] = await api.published(REVOKED)
    assert revoked.data["tier"] == 0 and revoked.data["points"] == 50
    assert revoked.data["grant"] == 2 and revoked.data["counted"] == 1
    # Met again later: a new grant (rewards keys it by its number).
    await deliver(api, invited("G", "A", T0 + timedelta(days=2)))
    assert [e.data["grant"] for e in await api.published(REACHED)] == [1, 3]


async def test_cycles_and_self_invites_are_flagged_and_withheld_until_cleared(api: Any) -> None:
    campaign = await new_campaign(api, tiers=[{"invites": 1, "points": 10}], daily_cap=1)
    day = timedelta(days=1)
    await deliver(
        api,
        invited("B", "A", T0, paid=False),  # free joins: count at once
        invited("A", "B", T0 + day, paid=False),  # B "invites" A back: a cycle
        invited("S", "S", T0 + day, paid=False),  # a self-invite
        invited("C", "B", T0 + day, paid=False),
        invited("D", "B", T0 + day + timedelta(hours=1), paid=False),  # over B's cap
    )
    participants = await api.client.get(
        f"{AC}/referrals/{campaign['id']}/participants", headers=api.operator()
    )
    rows = {r["member_id"]: r for r in participants.json()}
    assert rows["A"]["counted"] == 0 and rows["A"]["flags"] == ["cycle"]
    assert rows["B"]["counted"] == 1 and rows["B"]["flags"] == ["cycle", "over_daily_cap"]
    assert rows["S"]["flags"] == ["self_invite"]
    # A's join of B counted at once (tier 0 granted); B's join of A closed the cycle, so
    # neither counts: A's tier is revoked; B, flagged, reached tier 0 but is withheld.
    [granted] = await api.published(REACHED)
    [revoked] = await api.published(REVOKED)
    assert granted.data["member_id"] == revoked.data["member_id"] == "A"
    assert (await progress(api, campaign, "B"))["under_review"] is True
    clear = f"{AC}/referrals/{campaign['id']}/participants/B/clear"
    cleared = await api.client.post(clear, headers=api.operator())
    assert cleared.status_code == 200 and cleared.json()["granted"] == [0]
    assert [e.data["member_id"] for e in await api.published(REACHED)] == ["A", "B"]
    assert (await api.client.post(clear, headers=api.member("B"))).status_code == 403
    none = f"{AC}/referrals/{campaign['id']}/participants/nobody/clear"
    assert (await api.client.post(none, headers=api.operator())).status_code == 409
    members_view = await api.client.get(
        f"{AC}/referrals/{campaign['id']}/participants", headers=api.member("B")
    )
    assert members_view.status_code == 403


async def test_a_campaign_set_up_late_counts_joins_since_its_start(api: Any) -> None:
    await deliver(api, invited("B", "A", T0, paid=False))
    api.at(T0 + timedelta(hours=2))
    campaign = await new_campaign(api, tiers=[{"invites": 1, "points": 10}])
    assert campaign["counting"] == "past_refund_window"
    [reached] = await api.published(REACHED)
    assert reached.data["member_id"] == "A"
    bad = await api.client.post(
        f"{AC}/referrals",
        json={
            "community_id": "c-1",
            "title": "x",
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(days=1)).isoformat(),
            "tiers": [{"invites": 5}, {"invites": 3}],
        },
        headers=api.operator(),
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("invalid-campaign")
