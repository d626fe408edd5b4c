"""Level-gated joining from the local projection of rewards' level.changed events."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from onboarding.levels.handlers import on_levels_changed
from servicekit.consumer import Batched
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"


def level_changed(tenant: str, member: str, level: int, minutes_ago: int = 0) -> Event:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return Event(
        type="quanzi.rewards.level.changed.v1",
        source="/rewards",
        tenant_id=tenant,
        topic="rewards.points",
        data={
            "tenant_id": tenant,
            "member_id": member,
            "previous_level": max(1, level - 1),
            "level": level,
            "name": f"L{level}",
            "direction": "up",
            "lifetime": level * 100,
            "changed_at": at.isoformat(),
        },
    )


async def reported(onboarding: Onboarding, event: Event) -> None:
    async with transaction(onboarding.sessions) as session:
        await on_levels_changed(session, [event])


async def test_joining_waits_for_the_level(onboarding: Onboarding) -> None:
    community = await onboarding.community(min_level=3)
    assert community["min_level"] == 3
    url = f"{BASE}/communities/{community['id']}/join"
    refused = await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/level-required")
    assert (refused.json()["required_level"], refused.json()["level"]) == (3, 1)

    await reported(onboarding, level_changed(onboarding.tenant, "crm-1", 3))
    await reported(onboarding, level_changed("tenant-b", "crm-2", 9))  # another tenant's member
    joined = await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    assert joined.status_code == 201 and joined.json()["status"] == "active"
    other = await onboarding.client.post(url, headers=onboarding.member("crm-2"))
    assert other.status_code == 403

    # A late, older report (a replayed dead letter) does not lower the level.
    await reported(onboarding, level_changed(onboarding.tenant, "crm-1", 1, minutes_ago=5))
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("crm-1")
    )
    assert (
        await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    ).status_code == 201
    # A newer report down (points reversed) closes the gate for the next join.
    await reported(onboarding, level_changed(onboarding.tenant, "crm-1", 2))
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("crm-1")
    )
    assert (
        await onboarding.client.post(url, headers=onboarding.member("crm-1"))
    ).status_code == 403


async def test_the_gate_covers_every_way_in(onboarding: Onboarding) -> None:
    form = {"fields": [{"key": "why", "label": "为什么", "kind": "text"}]}
    reviewed = await onboarding.community(slug="reviewed", application_form=form, min_level=2)
    applied = await onboarding.client.post(
        f"{BASE}/communities/{reviewed['id']}/applications",
        json={"answers": {"why": "x"}},
        headers=onboarding.member("crm-1"),
    )
    assert applied.status_code == 403
    paid = await onboarding.paid_community(min_level=2)
    assert (await onboarding.pay(paid["id"], "crm-1", "p-1")).status_code == 403
    invite = await onboarding.client.post(
        f"{BASE}/invites",
        json={"community_id": paid["id"], "code": "GATED"},
        headers=onboarding.operator(),
    )
    redeemed = await onboarding.client.post(
        f"{BASE}/invites/{invite.json()['code']}/redeem", headers=onboarding.member("crm-1")
    )
    assert redeemed.status_code == 403
    await reported(onboarding, level_changed(onboarding.tenant, "crm-1", 2))
    assert (await onboarding.pay(paid["id"], "crm-1", "p-1")).status_code == 201


async def test_operators_set_and_lift_the_gate(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    url = f"{BASE}/communities/{community['id']}/level-gate"
    gated = await onboarding.client.put(url, json={"min_level": 5}, headers=onboarding.operator())
    assert gated.status_code == 200 and gated.json()["min_level"] == 5
    for bad in ({"min_level": 0}, {}, {"min_level": "high"}):
        answer = await onboarding.client.put(url, json=bad, headers=onboarding.operator())
        assert answer.status_code == 422, bad
    other = await onboarding.client.put(
        url, json={"min_level": 1}, headers=onboarding.operator(tenant="tenant-b")
    )
    assert other.status_code == 404
    member = await onboarding.client.put(url, json={"min_level": 1}, headers=onboarding.member("m"))
    assert member.status_code == 403
    lifted = await onboarding.client.put(
        url, json={"min_level": None}, headers=onboarding.operator()
    )
    assert lifted.json()["min_level"] is None
    changes = [e.data for e in await onboarding.events("quanzi.onboarding.community.updated.v1")]
    assert [(c["changes"], c["min_level"]) for c in changes] == [
        (["min_level"], 5),
        (["min_level"], None),
    ]


async def test_levels_are_read_from_rewards_points(onboarding: Onboarding) -> None:
    [levels] = [c for c in onboarding.app.state.runtime.spec.consumers if c.name == "levels"]
    assert list(levels.topics) == ["rewards.points"]
    assert levels.handlers == {"quanzi.rewards.level.changed.v1": Batched(on_levels_changed)}
