"""Operators' rules (versioned), levels and reports; multipliers through the consumer.
SQLite and PostgreSQL, over ASGI."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from rewards.orm import entries, wallets
from rewards.points import service as points_service
from rewards.rules.sources import default_rules
from servicekit.db import transaction
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

PROBLEM = "application/problem+json"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"
CHECKIN = "quanzi.activities.checkin.recorded.v1"
TENANT = "t-acme"


def admin(api: Api, **extra: str) -> dict[str, str]:
    return api.operator("admin", **extra)


async def member_entries(ledger: Ledger, member_id: str) -> list[dict[str, Any]]:
    async with ledger.engine.connect() as connection:
        query = (
            select(entries)
            .join(wallets, wallets.c.id == entries.c.wallet_id)
            .where(wallets.c.member_id == member_id)
            .order_by(entries.c.id)
        )
        return [dict(row) for row in (await connection.execute(query)).mappings()]


async def put_rule(api: Api, rule_id: str, **definition: Any) -> httpx.Response:
    return await api.client.put(f"/v1/rewards/rules/{rule_id}", json=definition, headers=admin(api))


JOIN_BONUS = {
    "event_type": ACTIVATED,
    "points": 10,
    "pending_until": "refund_window_ends_at",
    "cause": "membership_id",
    "once_per": "membership_id",
    "expiry": {"kind": "after_days", "days": 365},
}


# ------------------------------------------------------------------ rules


async def test_rules_list_pages_and_filters(api: Api) -> None:
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await api.client.get(
            "/v1/rewards/rules", params=params, headers=api.operator("operator")
        )
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    ids = [rule["rule_id"] for rule in seen]
    assert ids == sorted(ids) and "join-bonus" in ids and len(ids) == len(default_rules())
    assert all(rule["version"] == 1 and rule["updated_by"] is None for rule in seen)
    joins = await api.client.get(
        "/v1/rewards/rules", params={"event_type": ACTIVATED}, headers=api.operator("operator")
    )
    assert [r["rule_id"] for r in joins.json()["items"]] == ["join-bonus", "referral"]
    referral = joins.json()["items"][1]["definition"]
    assert referral["caps"]["per_month"] == 400
    assert referral["beneficiary"] == "source.inviter_id"
    bad = await api.client.get(
        "/v1/rewards/rules", params={"cursor": "nonsense"}, headers=api.operator("operator")
    )
    assert bad.status_code == 400


async def test_a_change_is_a_new_version_and_entries_keep_theirs(ledger: Ledger, api: Api) -> None:
    await ledger.deliver(ledger.activated("m-1", "early", window_days=None))
    changed = await put_rule(api, "join-bonus", **{**JOIN_BONUS, "points": 15})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.json()["updated_by"] == "op-1"
    await ledger.deliver(ledger.activated("m-2", "late", window_days=None))
    [early] = await member_entries(ledger, "early")
    [late] = await member_entries(ledger, "late")
    assert (early["rule_version"], early["lifetime_delta"]) == (1, 10)
    assert (late["rule_version"], late["lifetime_delta"]) == (2, 15)
    detail = (await api.client.get("/v1/rewards/rules/join-bonus", headers=admin(api))).json()
    assert [(v["version"], v["active"]) for v in detail["versions"]] == [(2, True), (1, False)]
    assert [v["definition"]["points"] for v in detail["versions"]] == [15, 10]
    [credited] = [
        e for e in await ledger.published("quanzi.rewards.points.credited.v1") if e.key == "late"
    ]
    assert credited.data["rule_version"] == 2
    await ledger.check_invariants()


async def test_create_archive_and_ids(ledger: Ledger, api: Api) -> None:
    body = {
        "rule_id": "core-bonus",
        "event_type": ACTIVATED,
        "points": 5,
        "conditions": [{"path": "tier", "op": "eq", "value": "core"}],
        "community_id": "c-1",
    }
    created = await api.client.post("/v1/rewards/rules", json=body, headers=admin(api))
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["archived"] is False
    again = await api.client.post("/v1/rewards/rules", json=body, headers=admin(api))
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    unnamed = {k: v for k, v in body.items() if k != "rule_id"}
    generated = await api.client.post("/v1/rewards/rules", json=unnamed, headers=admin(api))
    assert generated.json()["rule_id"].startswith("r-")
    in_c1 = await api.client.get(
        "/v1/rewards/rules", params={"community_id": "c-1"}, headers=admin(api)
    )
    assert len(in_c1.json()["items"]) == 2
    await ledger.deliver(ledger.activated("m-1", "a", window_days=None))
    assert (await ledger.balances("a") or {})["lifetime"] == 10 + 5 + 5
    for rule_id in ("core-bonus", generated.json()["rule_id"]):
        archived = await api.client.post(
            f"/v1/rewards/rules/{rule_id}/archive", headers=api.operator("owner")
        )
        assert archived.status_code == 200 and archived.json()["archived"] is True
    repeat = await api.client.post("/v1/rewards/rules/core-bonus/archive", headers=admin(api))
    assert repeat.status_code == 200
    await ledger.deliver(ledger.activated("m-2", "b", window_days=None))
    assert (await ledger.balances("b") or {})["lifetime"] == 10  # only the join bonus
    frozen = await put_rule(api, "core-bonus", event_type=ACTIVATED, points=9)
    assert frozen.status_code == 409
    listed = await api.client.get(
        "/v1/rewards/rules", params={"archived": "true"}, headers=admin(api)
    )
    assert len(listed.json()["items"]) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"event_type": ACTIVATED, "points": 0},
        {"event_type": ACTIVATED, "points": 10, "surprise": 1},
        {"event_type": "Not A Type!", "points": 10},
        {"event_type": ACTIVATED, "points": 10, "conditions": [{"path": "a", "op": "like"}]},
        {"event_type": ACTIVATED, "points": 10, "conditions": [{"path": "a", "op": "in"}]},
        {"event_type": ACTIVATED, "points": 10, "expiry": {"kind": "after_days"}},
        {"event_type": ACTIVATED, "points": 10, "caps": {"per_day": 0}},
        {"event_type": ACTIVATED, "points": 10, "beneficiary": "a..b"},
        {"event_type": ACTIVATED, "points": 10, "multipliers": {"by_level": {"3": 0.5}}},
        {"event_type": ACTIVATED, "points": 10, "multipliers": {"by_tier": {"core": 11}}},
        {"event_type": ACTIVATED, "points": 10, "multipliers": {"by_level": {"x": 2}}},
        {
            "event_type": ACTIVATED,
            "points": 10,
            "active_from": "2026-01-02T00:00:00Z",
            "active_until": "2026-01-01T00:00:00Z",
        },
        {"event_type": ACTIVATED, "points": 10, "active_from": "2026-01-02T00:00:00"},
        {"event_type": ACTIVATED, "points": 10, "community_id": "c\x00"},
    ],
)
async def test_bad_rules_are_a_422_with_the_fields(api: Api, body: dict[str, Any]) -> None:
    for answer in (
        await api.client.post("/v1/rewards/rules", json=body, headers=admin(api)),
        await put_rule(api, "join-bonus", **body),
    ):
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["errors"]
    detail = (await api.client.get("/v1/rewards/rules/join-bonus", headers=admin(api))).json()
    assert detail["version"] == 1  # nothing half-written


async def test_roles_and_tenants(api: Api) -> None:
    created = await api.client.post(
        "/v1/rewards/rules",
        json={"rule_id": "mine", "event_type": CHECKIN, "points": 1},
        headers=admin(api),
    )
    assert created.status_code == 201
    member = api.member("crm-1")
    for method, path, body in [
        ("GET", "/v1/rewards/rules", None),
        ("GET", "/v1/rewards/rules/mine", None),
        ("POST", "/v1/rewards/rules", {"event_type": CHECKIN, "points": 1}),
        ("PUT", "/v1/rewards/rules/mine", {"event_type": CHECKIN, "points": 2}),
        ("POST", "/v1/rewards/rules/mine/archive", None),
        ("GET", "/v1/rewards/levels", None),
        ("PUT", "/v1/rewards/levels", {"levels": [{"threshold": 0, "name": "A"}]}),
        ("GET", "/v1/rewards/reports/points", None),
        ("GET", "/v1/rewards/settings", None),
    ]:
        answer = await api.client.request(method, path, json=body, headers=member)
        assert answer.status_code == 403, (method, path)
        if method != "GET":  # operators read; owners and admins change
            answer = await api.client.request(
                method, path, json=body, headers=api.operator("operator")
            )
            assert answer.status_code == 403, (method, path)
    other = api.operator("admin", tenant_id="t-other")
    assert (await api.client.get("/v1/rewards/rules/mine", headers=other)).status_code == 404
    assert (
        await api.client.put(
            "/v1/rewards/rules/mine", json={"event_type": CHECKIN, "points": 3}, headers=other
        )
    ).status_code == 404
    assert (
        await api.client.post("/v1/rewards/rules/mine/archive", headers=other)
    ).status_code == 404
    listed = await api.client.get("/v1/rewards/rules", headers=other)
    assert "mine" not in [r["rule_id"] for r in listed.json()["items"]]
    mine = (await api.client.get("/v1/rewards/rules/mine", headers=admin(api))).json()
    assert (mine["version"], mine["archived"]) == (1, False)
    no_auth = await api.client.get("/v1/rewards/rules")
    assert no_auth.status_code == 401


# ------------------------------------------------------------ multipliers


async def test_multipliers_through_the_consumer(ledger: Ledger, api: Api) -> None:
    table = {"by_level": {"2": 2}, "by_tier": {"core": 1.5}}
    changed = await put_rule(api, "join-bonus", **{**JOIN_BONUS, "multipliers": table})
    assert changed.status_code == 200, changed.text
    assert changed.json()["definition"]["multipliers"] == {
        "by_level": {"2": 2.0},
        "by_tier": {"core": 1.5},
    }
    # Level 1, tier core: 10 × 1.5. Then level 2 (15 lifetime points): 10 × 2 × 1.5.
    await ledger.deliver(ledger.activated("m-1", "vip", window_days=None))
    await ledger.deliver(ledger.activated("m-2", "vip", window_days=None))
    assert [e["lifetime_delta"] for e in await member_entries(ledger, "vip")] == [15, 30]
    # The batch path gives the same: the level as of each credit.
    await ledger.deliver_batch(
        ledger.activated("m-3", "vip-2", window_days=None),
        ledger.activated("m-4", "vip-2", window_days=None),
    )
    assert [e["lifetime_delta"] for e in await member_entries(ledger, "vip-2")] == [15, 30]
    # Caps bound the multiplied points.
    capped = await api.client.post(
        "/v1/rewards/rules",
        json={
            "rule_id": "capped",
            "event_type": ACTIVATED,
            "points": 10,
            "caps": {"per_day": 12},
            "multipliers": {"by_tier": {"core": 2}},
        },
        headers=admin(api),
    )
    assert capped.status_code == 201
    await ledger.deliver(ledger.activated("m-5", "capped-member", window_days=None))
    await ledger.deliver(ledger.activated("m-6", "capped-member", window_days=None))
    found = [
        e["lifetime_delta"]
        for e in await member_entries(ledger, "capped-member")
        if e["rule_id"] == "capped"
    ]
    assert found == [12]  # 20 capped to 12, then nothing left today
    await ledger.check_invariants()


# ----------------------------------------------------------------- levels


async def test_levels_api_and_the_next_credit_recomputes(ledger: Ledger, api: Api) -> None:
    defaults = (await api.client.get("/v1/rewards/levels", headers=api.operator("operator"))).json()
    assert defaults["updated_at"] is None
    assert [lv["threshold"] for lv in defaults["levels"]][:3] == [0, 5, 20]
    await ledger.deliver(ledger.activated("m-1", "climber", window_days=None))  # 10: Lv2
    mine = (await api.client.get("/v1/rewards/me/level", headers=api.member("climber"))).json()
    assert (mine["level"], mine["name"], mine["next_name"], mine["points_to_next"]) == (
        2,
        "Lv2",
        "Lv3",
        10,
    )
    levels = {
        "levels": [
            {"threshold": 0, "name": "新人"},
            {"threshold": 8, "name": "活跃"},
            {"threshold": 15, "name": "核心"},
        ]
    }
    put = await api.client.put("/v1/rewards/levels", json=levels, headers=admin(api))
    assert put.status_code == 200, put.text
    assert [lv["name"] for lv in put.json()["levels"]] == ["新人", "活跃", "核心"]
    assert put.json()["updated_at"] is not None
    mine = (await api.client.get("/v1/rewards/me/level", headers=api.member("climber"))).json()
    assert (mine["level"], mine["name"], mine["points_to_next"]) == (2, "活跃", 5)
    # Not retroactive: no level.changed yet; the next credit recomputes (10 → 20: level 3).
    before = len(await ledger.published("quanzi.rewards.level.changed.v1"))
    await ledger.deliver(ledger.activated("m-2", "climber", window_days=None))
    changes = await ledger.published("quanzi.rewards.level.changed.v1")
    assert len(changes) == before + 1
    assert (changes[-1].data["level"], changes[-1].data["name"]) == (3, "核心")
    top = (await api.client.get("/v1/rewards/me/level", headers=api.member("climber"))).json()
    assert (top["next_level_at"], top["next_name"], top["percent"]) == (None, None, 100)
    nobody = await api.client.get("/v1/rewards/me/level", headers=api.member("nobody"))
    assert nobody.json()["level"] == 1 and nobody.json()["lifetime"] == 0
    other = await api.client.get("/v1/rewards/levels", headers=api.operator("admin", tenant_id="x"))
    assert other.json()["levels"][1]["threshold"] == 5  # tenants apart


@pytest.mark.parametrize(
    "levels",
    [
        [],
        [{"threshold": 1, "name": "A"}],
        [{"threshold": 0, "name": "A"}, {"threshold": 0, "name": "B"}],
        [
            {"threshold": 0, "name": "A"},
            {"threshold": 9, "name": "B"},
            {"threshold": 5, "name": "C"},
        ],
        [{"threshold": 0, "name": ""}],
        [{"threshold": -1, "name": "A"}],
        [{"threshold": 0, "name": "A", "extra": 1}],
    ],
)
async def test_bad_levels_are_a_422(api: Api, levels: list[dict[str, Any]]) -> None:
    answer = await api.client.put("/v1/rewards/levels", json={"levels": levels}, headers=admin(api))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM and answer.json()["errors"]


# ---------------------------------------------------------------- reports


async def test_report_totals_are_sums_of_entries(ledger: Ledger, api: Api) -> None:
    now = utcnow()
    await ledger.deliver(ledger.tenant_zone("UTC"))  # report days as UTC dates
    await ledger.deliver(
        ledger.activated("m-1", "a", inviter_id="host", window_days=None),
        ledger.activated("m-2", "b", community_id="c-2", inviter_id="host"),
        ledger.activated("m-3", "c", window_days=None, at=now - timedelta(days=40)),
        ledger.refunded("m-2", "b"),
    )
    async with transaction(ledger.sessions) as session:
        await points_service.adjust(
            session,
            tenant_id=TENANT,
            member_id="a",
            points=-4,
            reason="spent",
            key="k-1",
            community_id="c-1",
            actor_id="op-1",
        )
    await ledger.deliver(ledger.activated("m-9", "x", tenant_id="t-other", window_days=None))
    today = now.date()
    params = {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}
    answer = await api.client.get(
        "/v1/rewards/reports/points", params=params, headers=api.operator("operator")
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    async with ledger.engine.connect() as connection:
        query = select(entries).where(
            entries.c.tenant_id == TENANT,
            entries.c.created_at
            >= now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6),
        )
        rows = (await connection.execute(query)).mappings().all()

    def total(kind: str, value: str, sign: int = 1) -> int:
        return sum(sign * r[value] for r in rows if r["kind"] == kind)

    assert report["totals"] == {
        "earned": total("earn", "lifetime_delta"),
        "spent": 0,
        "restored": 0,
        "expired": 0,
        "reversed": total("reverse", "lifetime_delta", -1),
        "adjusted": total("adjust", "available_delta"),
        "members_earning": len({r["wallet_id"] for r in rows if r["kind"] == "earn"}),
    }
    assert report["totals"]["earned"] == 10 + 20 + 10 + 20  # m-3 is 40 days ago
    assert report["totals"]["reversed"] == 30 and report["totals"]["adjusted"] == -4
    assert report["totals"]["members_earning"] == 3
    for group_by in ("rule", "community", "day"):
        grouped = await api.client.get(
            "/v1/rewards/reports/points",
            params={**params, "group_by": group_by},
            headers=admin(api),
        )
        groups = grouped.json()["groups"]
        for measure in ("earned", "spent", "expired", "reversed", "adjusted"):
            assert sum(g[measure] for g in groups) == report["totals"][measure], group_by
    by_rule = await api.client.get(
        "/v1/rewards/reports/points", params={**params, "group_by": "rule"}, headers=admin(api)
    )
    earned = {g["key"]: g["earned"] for g in by_rule.json()["groups"]}
    assert earned == {None: 0, "join-bonus": 20, "referral": 40}
    by_day = await api.client.get(
        "/v1/rewards/reports/points", params={**params, "group_by": "day"}, headers=admin(api)
    )
    assert [g["key"] for g in by_day.json()["groups"]] == [today.isoformat()]
    in_c2 = await api.client.get(
        "/v1/rewards/reports/points", params={**params, "community_id": "c-2"}, headers=admin(api)
    )
    assert (in_c2.json()["totals"]["earned"], in_c2.json()["totals"]["reversed"]) == (30, 30)
    default = await api.client.get("/v1/rewards/reports/points", headers=admin(api))
    assert default.json()["totals"]["earned"] == 60
    assert default.json()["from"] == (today - timedelta(days=29)).isoformat()


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-01-01", "to": "2027-01-03"},
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "yesterday"},
        {"group_by": "member"},
    ],
)
async def test_bad_report_periods_are_a_422(api: Api, params: dict[str, str]) -> None:
    answer = await api.client.get("/v1/rewards/reports/points", params=params, headers=admin(api))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM


async def test_a_control_character_in_a_filter_is_a_400(api: Api) -> None:
    params = {"community_id": "c\x00"}
    answer = await api.client.get("/v1/rewards/reports/points", params=params, headers=admin(api))
    assert answer.status_code == 400 and answer.json()["type"].endswith("/control-character")


async def test_a_year_is_allowed(api: Api) -> None:
    params = {"from": "2024-01-01", "to": "2024-12-31"}  # 366 days
    answer = await api.client.get("/v1/rewards/reports/points", params=params, headers=admin(api))
    assert answer.status_code == 200
    assert answer.json()["totals"]["earned"] == 0
