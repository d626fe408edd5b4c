"""Local days through the gateway, over real HTTP and Kafka: the platform admin gives a
tenant a time zone, an owner creates communities in two others; onboarding and the
gateway announce the zones, rewards keeps them, and each leaderboard's "today" and the
day a join bonus counts on are that board's own.

Kiritimati (UTC+14) and Pago Pago (UTC−11) are 25 hours apart: their dates differ at
every instant, and at least one differs from Shanghai's (the default) and from UTC's,
so this cannot pass on a default zone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from quanzi_devstack.run import Platform
from servicekit.settings import DEV_SECRET

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
PLATFORM_ADMIN = {"Authorization": f"Bearer {DEV_SECRET}"}  # the development default
EAST, WEST = "Pacific/Kiritimati", "Pacific/Pago_Pago"


def today_in(zone: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eventually(read: Callable[[], Any], timeout_s: float = 30) -> None:
    """Until ``read()`` is true: the projections follow the producers over Kafka."""
    deadline = time.monotonic() + timeout_s
    while not read() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert read()


def test_each_board_counts_its_own_zones_days(
    platform: Platform, make_tenant: Callable[[str], Tenant]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    tenant = make_tenant(f"days-{suffix}")
    with httpx.Client(base_url=platform.gateway_url, timeout=20) as client:
        owner = bearer(tenant.owner_token)
        changed = client.patch(
            f"/v1/platform/tenants/{tenant.id}", headers=PLATFORM_ADMIN, json={"timezone": EAST}
        )
        assert changed.status_code == 200 and changed.json()["timezone"] == EAST
        ids = {}
        for zone in (EAST, WEST):
            slug = "c-" + zone.split("/")[1].lower().replace("_", "-")
            made = client.post(
                f"{OB}/communities",
                headers=owner,
                json={"slug": slug, "name": zone, "timezone": zone},
            )
            assert made.status_code == 201, made.text
            ids[zone] = made.json()["id"]

        def last_day(community_id: str | None) -> Any:
            params = {"window": "7d", **({"community_id": community_id} if community_id else {})}
            found = client.get("/v1/rewards/leaderboard", headers=owner, params=params)
            return found.json().get("last_day") if found.status_code == 200 else found.text

        # The projection has caught up once each board's today is its zone's.
        for zone, community_id in ((EAST, None), (EAST, ids[EAST]), (WEST, ids[WEST])):
            eventually(lambda z=zone, c=community_id: last_day(c) == str(today_in(z)))
        # A member joins both: each join bonus counts on its community's local day.
        me_id = f"m-{suffix}"
        minted = client.post(
            "/v1/member-tokens", headers={"X-Api-Key": tenant.api_key}, json={"external_id": me_id}
        )
        assert minted.status_code == 201, minted.text
        me = bearer(minted.json()["access_token"])
        for community_id in ids.values():
            joined = client.post(f"{OB}/communities/{community_id}/join", headers=me)
            assert joined.status_code == 201, joined.text
        days = {zone: str(today_in(zone)) for zone in (EAST, WEST)}

        def on_day(zone: str) -> Any:
            params = {
                "window": "custom",
                "community_id": ids[zone],
                "from": days[zone],
                "to": days[zone],
            }
            found = client.get("/v1/rewards/leaderboard", headers=owner, params=params)
            return [(row["member_id"], row["points"]) for row in found.json().get("top", [])]

        eventually(lambda: on_day(EAST) == [(me_id, 10)])
        eventually(lambda: on_day(WEST) == [(me_id, 10)])
        assert days[EAST] != days[WEST]
