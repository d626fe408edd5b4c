"""Two replicas of every service behind the gateway, on PostgreSQL (one database per service,
one broker), under a steady load of joins and leaves, with one replica of onboarding and
one of rewards killed with SIGKILL in the middle of it, and a third replica of rewards
started later (its consumers join their groups: a rebalance while events flow).

Every effect happens exactly once: each member who joined is seated once and credited the
join bonus once (however many replicas' relays and consumers handled their events, and
whichever replica died holding the relay's lock or a consumer's uncommitted offsets), no
group is over capacity, and the groups' counts equal the memberships that sit in them.
The load retries what a client would retry (a join or leave answered 502/503 by a dying
replica): both are idempotent.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from quanzi_devstack.run import DEFAULT_PORTS, SERVICES, Platform
from servicekit.pytest_plugin import require_postgres
from servicekit.testing import postgres_admin_dsn

if TYPE_CHECKING:
    from conftest import Tenant

OB = "/v1/onboarding"
JOIN_BONUS = 10  # rewards' default earning rule for a join
MEMBERS = 40
LEAVERS = 8
KILL_AFTER = 12  # joins answered before the two replicas are killed
UNLIMITED = {
    name: {
        "tenant_rate": 1e9,
        "tenant_burst": 10**9,
        "principal_rate": 1e9,
        "principal_burst": 10**9,
    }
    for name in ("free", "standard", "enterprise", "anonymous")
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """This module's own platform (it overrides the session's): two replicas per service."""
    require_postgres()
    stamp = datetime.now(UTC).strftime("%H%M%S") + uuid.uuid4().hex[:6]
    names = {service: f"e2e_replicas_{service}_{stamp}" for service in DEFAULT_PORTS}
    server = (
        postgres_admin_dsn().rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    )
    running = Platform.on_free_ports(
        tmp_path_factory.mktemp("replicas"),
        quiet=True,
        database_urls={service: f"{server}/{name}" for service, name in names.items()},
        replicas={service: 2 for service in SERVICES},
        extra_env={"QUANZI_GATEWAY_RATE_LIMIT_PLANS": json.dumps(UNLIMITED)},
    )
    try:
        running.start(timeout_s=180)
        yield running
    finally:
        running.stop()
        asyncio.run(_drop(list(names.values())))


async def _drop(names: list[str]) -> None:
    admin = await asyncpg.connect(postgres_admin_dsn())
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post_settled(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], attempts: int = 20
) -> httpx.Response:
    """A client's retry of an idempotent POST while a replica is dying (502/503/504)."""
    for _ in range(attempts):
        response = await http.post(url, headers=headers)
        if response.status_code not in (502, 503, 504):
            return response
        await asyncio.sleep(0.2)
    return response


def eventually(read: Callable[[], Any], expected: Any, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    seen = read()
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = read()
    assert seen == expected


def test_two_replicas_of_everything_lose_and_repeat_nothing_when_two_are_killed(
    platform: Platform, make_tenant: Callable[[str], Tenant]
) -> None:
    tenant = make_tenant(f"replicas-{uuid.uuid4().hex[:8]}")
    owner = bearer(tenant.owner_token)
    assert set(platform.processes) >= {"onboarding", "onboarding-1", "rewards", "rewards-1"}
    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        community = client.post(
            f"{OB}/communities",
            headers=owner,
            json={
                "slug": f"live-{uuid.uuid4().hex[:6]}",
                "name": "直播间",
                "groups": [{"name": f"{n}群", "capacity": 10} for n in (1, 2)],
            },
        )
        assert community.status_code == 201, community.text
        cid = community.json()["id"]
        groups = client.get(f"{OB}/communities/{cid}/groups", headers=owner).json()["items"]
        code = f"live-{uuid.uuid4().hex[:6]}"
        routing = client.post(
            f"{OB}/routing-codes",
            headers=owner,
            json={
                "community_id": cid,
                "code": code,
                "group_ids": [g["id"] for g in groups],
                "overflow_prefix": "溢出",
                "overflow_capacity": 10,
            },
        )
        assert routing.status_code == 201, routing.text
        members = [f"viewer-{n}-{uuid.uuid4().hex[:4]}" for n in range(MEMBERS)]
        tokens = {}
        for member in members:
            minted = client.post(
                "/v1/member-tokens",
                headers={"X-Api-Key": tenant.api_key},
                json={"external_id": member},
            )
            assert minted.status_code == 201, minted.text
            tokens[member] = bearer(minted.json()["access_token"])

    answered: list[int] = []
    added: list[str] = []

    async def load() -> None:
        async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as http:
            queue = iter(members)

            async def joiner() -> None:
                for member in queue:
                    url = f"{OB}/routing-codes/{code}/join"
                    joined = await post_settled(http, url, tokens[member])
                    answered.append(joined.status_code)
                    if len(answered) == KILL_AFTER:
                        # Mid-load: whichever holds the relay lock or uncommitted offsets.
                        platform.kill("onboarding")
                        platform.kill("rewards")
                    if len(answered) == KILL_AFTER * 2:  # and one more joins: a rebalance
                        added.append(platform.add_replica("rewards"))

            await asyncio.gather(*(joiner() for _ in range(6)))
            leave = f"{OB}/communities/{cid}/leave"
            for member in members[:LEAVERS]:
                left = await post_settled(http, leave, tokens[member])
                assert left.status_code == 200, left.text

    asyncio.run(load())
    # 200: a join retried after a dying replica's 502 had in fact committed (a repeat).
    assert len(answered) == MEMBERS and set(answered) <= {200, 201}, Counter(answered)
    assert "onboarding" not in platform.processes and "rewards" not in platform.processes
    assert added == ["rewards-2"] and platform.processes["rewards-2"].poll() is None

    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:

        def balances() -> list[Any]:
            answers = [client.get("/v1/rewards/me/summary", headers=tokens[m]) for m in members]
            return [
                a.json().get("available") if a.status_code == 200 else a.status_code
                for a in answers
            ]

        eventually(balances, [JOIN_BONUS] * MEMBERS)  # each join credited once, none twice

        def placement() -> tuple[int, int, bool]:
            found = client.get(f"{OB}/communities/{cid}/groups?limit=100", headers=owner).json()[
                "items"
            ]
            seated = sum(g["member_count"] for g in found)
            return seated, len(found), all(g["member_count"] <= g["capacity"] for g in found)

        seated, group_count, within = placement()
        assert (seated, within) == (MEMBERS - LEAVERS, True)
        assert group_count >= 4  # 40 joins over groups of 10: overflow groups were opened
        answers = [client.get(f"{OB}/me/memberships", headers=tokens[m]) for m in members]
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        statuses = Counter(item["status"] for a in answers for item in a.json()["items"])
        assert statuses == {"active": MEMBERS - LEAVERS, "left": LEAVERS}


def test_the_platform_lists_each_replica_with_the_gateway(platform: Platform) -> None:
    env = platform.env_for("gateway")
    upstreams = json.loads(env["QUANZI_GATEWAY_UPSTREAMS"])
    assert all(len(upstreams[service].split(",")) == 2 for service in SERVICES)
    assert Path(platform.var_dir / "onboarding-1.log").exists()
