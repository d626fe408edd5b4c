"""content's auto-moderation findings (``item.flagged``) become strikes on the community's
ladder, once per burst, through the ``strikes`` consumer's handler."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from onboarding.moderation.sanctions import AUTOMOD
from servicekit.contracts import Registry
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
FLAGGED = "quanzi.content.item.flagged.v1"
ISSUED = "quanzi.onboarding.sanction.issued.v1"


def flagged(tenant: str, community_id: str, member: str, at: datetime, **data: Any) -> Event:
    return Event(
        type=FLAGGED,
        source="/content",
        tenant_id=tenant,
        topic="content.moderation",
        key=member,
        data={
            "tenant_id": tenant,
            "member_id": member,
            "community_id": community_id,
            "target_kind": "post",
            "target_id": None,
            "post_id": None,
            "action": "block",
            "rule_id": "r-1",
            "rule_kind": "keyword",
            "rule_pattern": "加微信",
            "strike": True,
            "flagged_at": at.isoformat(),
            **data,
        },
    )


async def deliver(onboarding: Onboarding, event: Event) -> None:
    """As the consumer applies it: the handler its table names, in one transaction."""
    Registry.load().validate(event)
    handlers = _strikes_handlers(onboarding)
    async with transaction(onboarding.sessions) as session:
        await handlers[event.type](session, event)


def _strikes_handlers(onboarding: Onboarding) -> dict[str, Any]:
    runtime = onboarding.app.state.runtime
    [spec] = [c for c in runtime.spec.consumers if c.name == "strikes"]
    assert spec.topics == ["content.moderation"]
    return dict(spec.handlers)


async def _seated(onboarding: Onboarding, member: str) -> str:
    community = await onboarding.community()
    joined = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member(member)
    )
    assert joined.status_code == 201, joined.text
    return str(community["id"])


async def _sanctions(onboarding: Onboarding, community_id: str) -> list[dict[str, Any]]:
    answer = await onboarding.client.get(
        f"{BASE}/communities/{community_id}/sanctions", headers=onboarding.operator()
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_a_flagged_item_is_a_strike_on_the_ladder_once_per_burst(
    onboarding: Onboarding,
) -> None:
    community_id = await _seated(onboarding, "crm-1")
    now = utcnow()
    await deliver(onboarding, flagged(onboarding.tenant, community_id, "crm-1", now))
    [warning] = await _sanctions(onboarding, community_id)
    assert (warning["kind"], warning["step"], warning["issued_by"]) == ("warning", 0, AUTOMOD.id)
    assert "加微信" in warning["reason"] and "keyword rule" in warning["reason"]
    # the rest of the burst (a second refusal a minute later, a late one from before)
    for at in (now + timedelta(minutes=1), now - timedelta(seconds=5)):
        await deliver(onboarding, flagged(onboarding.tenant, community_id, "crm-1", at))
    assert len(await _sanctions(onboarding, community_id)) == 1
    # after the cooldown, the next finding climbs the ladder: a one-day mute
    later = utcnow() + timedelta(minutes=11)
    await deliver(
        onboarding,
        flagged(
            onboarding.tenant,
            community_id,
            "crm-1",
            later,
            rule_kind="flood",
            rule_id=None,
            rule_pattern="5 in 60s",
        ),
    )
    sanctions = await _sanctions(onboarding, community_id)
    assert sorted(s["kind"] for s in sanctions) == ["mute", "warning"]
    mine = await onboarding.client.get(f"{BASE}/me/memberships", headers=onboarding.member("crm-1"))
    assert [m["status"] for m in mine.json()["items"]] == ["muted"]
    issued = await onboarding.events(ISSUED)
    assert len(issued) == 2 and all(e.data["member_id"] == "crm-1" for e in issued)


async def test_no_strike_when_not_asked_or_nobody_to_sanction(onboarding: Onboarding) -> None:
    community_id = await _seated(onboarding, "crm-1")
    now = utcnow()
    tenant = onboarding.tenant
    await deliver(onboarding, flagged(tenant, community_id, "crm-1", now, strike=False))
    await deliver(onboarding, flagged(tenant, community_id, "crm-2", now))  # not a member
    await deliver(onboarding, flagged(tenant, "no-such-community", "crm-1", now))
    await deliver(onboarding, flagged("tenant-b", community_id, "crm-1", now))  # other tenant
    assert await _sanctions(onboarding, community_id) == []
    left = await onboarding.client.post(
        f"{BASE}/communities/{community_id}/leave", headers=onboarding.member("crm-1")
    )
    assert left.status_code == 200, left.text
    await deliver(onboarding, flagged(tenant, community_id, "crm-1", now))
    assert await _sanctions(onboarding, community_id) == []
    assert await onboarding.events(ISSUED) == []
