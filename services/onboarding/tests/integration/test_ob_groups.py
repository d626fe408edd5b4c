"""Community and group updates, group requirements in routing, trial → core, renewal reminders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from onboarding.levels.handlers import on_levels_changed
from onboarding.orm import AuditRecord
from onboarding.payments.timers import REMINDER_TIMER, remind_renewal
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.tables import timers
from servicekit.timers import Timer, TimerRunner
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
UPDATED = "quanzi.onboarding.community.updated.v1"
TIER_CHANGED = "quanzi.onboarding.membership.tier_changed.v1"
RENEWAL_DUE = "quanzi.onboarding.membership.renewal_due.v1"


async def groups_by_name(onboarding: Onboarding, community_id: str) -> dict[str, dict[str, Any]]:
    answer = await onboarding.client.get(
        f"{BASE}/communities/{community_id}/groups", headers=onboarding.operator()
    )
    assert answer.status_code == 200, answer.text
    return {g["name"]: g for g in answer.json()["items"]}


async def routing_code(
    onboarding: Onboarding, community_id: str, code: str, group_ids: list[str], **extra: Any
) -> None:
    body = {
        "community_id": community_id,
        "code": code,
        "group_ids": group_ids,
        "overflow_prefix": f"{code}-",
        **extra,
    }
    answer = await onboarding.client.post(
        f"{BASE}/routing-codes", json=body, headers=onboarding.operator()
    )
    assert answer.status_code == 201, answer.text


async def join_code(onboarding: Onboarding, code: str, member: str) -> dict[str, Any]:
    answer = await onboarding.client.post(
        f"{BASE}/routing-codes/{code}/join", headers=onboarding.member(member)
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def level_changed(tenant: str, member: str, level: int) -> Event:
    return Event(
        type="quanzi.rewards.level.changed.v1",
        source="/rewards",
        tenant_id=tenant,
        topic="rewards.points",
        data={
            "tenant_id": tenant,
            "member_id": member,
            "previous_level": level - 1,
            "level": level,
            "name": f"L{level}",
            "direction": "up",
            "lifetime": level * 100,
            "changed_at": utcnow().isoformat(),
        },
    )


async def report_level(onboarding: Onboarding, member: str, level: int) -> None:
    async with transaction(onboarding.sessions) as session:
        await on_levels_changed(session, [level_changed(onboarding.tenant, member, level)])


# ---------------------------------------------------------------- community updates


async def test_patch_community_publishes_the_changes(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(value_statement="每周读一本书")
    assert community["value_statement"] == "每周读一本书"
    assert community["renewal_reminder_days"] == [7, 1] and community["settings"] == {}
    url = f"{BASE}/communities/{community['id']}"
    body = {
        "name": "读书会 Pro",
        "value_statement": "读书、分享、成长",
        "visibility": "private",
        "timezone": "Europe/Paris",
        "settings": {"theme": "dark", "features": ["digest"]},
        "price_cents": 19900,
        "trial_days": 3,
        "renewal_reminder_days": [1, 7, 3, 7],
        "auto_upgrade": {"on": ["payment", "level"], "level": 5},
    }
    answer = await onboarding.client.patch(url, json=body, headers=onboarding.operator())
    assert answer.status_code == 200, answer.text
    updated = answer.json()
    assert updated["renewal_reminder_days"] == [7, 3, 1]
    assert updated["auto_upgrade"] == {
        "to_group_kind": "core",
        "on": ["payment", "level"],
        "level": 5,
    }
    assert (updated["price_cents"], updated["trial_days"], updated["visibility"]) == (
        19900,
        3,
        "private",
    )
    [event] = await onboarding.events(UPDATED)
    assert set(event.data["changes"]) == set(body) and event.data["name"] == "读书会 Pro"
    async with onboarding.sessions() as session:
        [record] = (
            await session.scalars(
                select(AuditRecord).where(AuditRecord.action == "community.updated")
            )
        ).all()
    assert record.target_id == community["id"] and set(record.details["changes"]) == set(body)
    # The same PATCH again changes nothing and publishes nothing.
    again = await onboarding.client.patch(url, json=body, headers=onboarding.operator())
    assert again.status_code == 200 and len(await onboarding.events(UPDATED)) == 1
    # New terms apply to the next payment.
    paid = await onboarding.pay(community["id"], "crm-1", "p-1", amount_cents=19900)
    assert paid.status_code == 201, paid.text


async def test_patch_community_is_validated(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    await onboarding.community(slug="other-club")
    url = f"{BASE}/communities/{community['id']}"
    bad_bodies: list[dict[str, Any]] = [
        {"timezone": "Mars/Olympus"},
        {"name": None},
        {"slug": "Not A Slug"},
        {"visibility": "hidden"},
        {"unknown": 1},
        {"settings": {"k": "x" * 9000}},
        {"renewal_reminder_days": [0]},
        {"auto_upgrade": {"on": ["level"]}},  # a level upgrade needs its level
        {"auto_upgrade": {"to_group_kind": "trial"}},
        {"price_cents": 100},  # only a paid community has a price
        {"description": "a\x00b"},
    ]
    for body in bad_bodies:
        answer = await onboarding.client.patch(url, json=body, headers=onboarding.operator())
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    taken = await onboarding.client.patch(
        url, json={"slug": "other-club"}, headers=onboarding.operator()
    )
    assert taken.status_code == 409 and taken.json()["type"].endswith("/slug-taken")
    paid = await onboarding.paid_community(slug="paid-one")
    fixed_without_end = await onboarding.client.patch(
        f"{BASE}/communities/{paid['id']}",
        json={"term_kind": "fixed"},
        headers=onboarding.operator(),
    )
    assert fixed_without_end.status_code == 422
    assert fixed_without_end.json()["type"].endswith("/invalid-terms")
    member = await onboarding.client.patch(url, json={"name": "x"}, headers=onboarding.member("m"))
    assert member.status_code == 403
    officer = onboarding.operator(roles=("content_officer",))
    assert (
        await onboarding.client.patch(url, json={"name": "x"}, headers=officer)
    ).status_code == 403
    elsewhere = await onboarding.client.patch(
        url, json={"name": "x"}, headers=onboarding.operator(tenant="tenant-b")
    )
    assert elsewhere.status_code == 404
    assert await onboarding.events(UPDATED) == []


# ---------------------------------------------------------------- groups


async def test_groups_take_requirements_and_patches(onboarding: Onboarding) -> None:
    groups = [
        {"name": "体验群", "kind": "trial", "capacity": 2},
        {"name": "核心群", "min_tier": "core", "city": "杭州", "tags": ["读书"]},
    ]
    community = await onboarding.community(groups=groups)
    cid = community["id"]
    by_name = await groups_by_name(onboarding, cid)
    core = by_name["核心群"]
    assert (core["min_tier"], core["city"], core["tags"], core["min_level"]) == (
        "core",
        "杭州",
        ["读书"],
        None,
    )
    created = await onboarding.events("quanzi.onboarding.group.created.v1")
    assert {e.data["name"]: e.data["min_tier"] for e in created} == {
        "体验群": None,
        "核心群": "core",
    }
    trial_id = by_name["体验群"]["id"]
    await routing_code(onboarding, cid, "try-it", [trial_id])
    await join_code(onboarding, "try-it", "m-1")
    await join_code(onboarding, "try-it", "m-2")
    url = f"{BASE}/communities/{cid}/groups/{trial_id}"
    smaller = await onboarding.client.patch(
        url, json={"capacity": 1}, headers=onboarding.operator()
    )
    assert smaller.status_code == 409 and smaller.json()["type"].endswith("/capacity-below-members")
    patch = {"capacity": 3, "min_level": 2, "name": "新人群", "tags": ["新人"]}
    answer = await onboarding.client.patch(url, json=patch, headers=onboarding.operator())
    assert answer.status_code == 200, answer.text
    assert answer.json()["capacity"] == 3 and answer.json()["member_count"] == 2
    [event] = await onboarding.events("quanzi.onboarding.group.updated.v1")
    assert set(event.data["changes"]) == set(patch) and event.data["min_level"] == 2
    taken = await onboarding.client.patch(
        url, json={"name": "核心群"}, headers=onboarding.operator()
    )
    assert taken.status_code == 409
    for body in ({"capacity": 0}, {"min_tier": "gold"}, {"name": None}, {"tags": ["x"] * 21}):
        bad = await onboarding.client.patch(url, json=body, headers=onboarding.operator())
        assert bad.status_code == 422, (body, bad.text)
    assert (
        await onboarding.client.patch(url, json={"capacity": 9}, headers=onboarding.member("m-1"))
    ).status_code == 403
    assert (
        await onboarding.client.patch(
            url, json={"capacity": 9}, headers=onboarding.operator(tenant="tenant-b")
        )
    ).status_code == 404
    unknown = await onboarding.client.patch(
        f"{BASE}/communities/{cid}/groups/nope", json={"capacity": 9}, headers=onboarding.operator()
    )
    assert unknown.status_code == 404


async def test_routing_places_members_only_where_they_qualify(onboarding: Onboarding) -> None:
    groups = [
        {"name": "体验群", "kind": "trial", "capacity": 2},
        {"name": "核心群", "min_tier": "core"},
        {"name": "高阶群", "min_level": 3},
    ]
    community = await onboarding.paid_community(trial_days=7, groups=groups)
    cid = community["id"]
    by_name = await groups_by_name(onboarding, cid)
    ids = {name: g["id"] for name, g in by_name.items()}
    await routing_code(onboarding, cid, "all-in", list(ids.values()), overflow_capacity=5)
    placed = [(await join_code(onboarding, "all-in", f"t-{i}"))["group_id"] for i in range(3)]
    # Trial members qualify for the trial group only; the third opens an overflow group that
    # copies the trial group's (absent) requirements.
    assert placed[:2] == [ids["体验群"]] * 2
    after = await groups_by_name(onboarding, cid)
    overflow = after["all-in-1"]
    assert placed[2] == overflow["id"] and overflow["min_tier"] is None
    assert after["核心群"]["member_count"] == 0 and after["高阶群"]["member_count"] == 0
    # A level 3 member reported by rewards qualifies for the level group.
    await report_level(onboarding, "lv-3", 3)
    leveled = await join_code(onboarding, "all-in", "lv-3")
    assert leveled["group_id"] in (ids["高阶群"], overflow["id"])
    assert leveled["group_id"] != ids["核心群"]
    # A paying member (tier core) may sit in the core group.
    paid = await onboarding.pay(cid, "payer", "p-1")
    assert paid.status_code == 201
    payer_group = paid.json()["membership"]["group_id"]
    assert payer_group is None  # a payment without a code seats nobody


async def test_trial_member_moves_to_a_core_group_on_payment(onboarding: Onboarding) -> None:
    groups = [
        {"name": "体验群", "kind": "trial"},
        {"name": "核心1群", "kind": "core", "min_tier": "core", "capacity": 1},
        {"name": "核心2群", "kind": "core", "min_tier": "core", "capacity": 1},
    ]
    upgrade = {"to_group_kind": "core", "on": ["payment"]}
    community = await onboarding.paid_community(trial_days=7, groups=groups, auto_upgrade=upgrade)
    cid = community["id"]
    ids = {name: g["id"] for name, g in (await groups_by_name(onboarding, cid)).items()}
    await routing_code(onboarding, cid, "trial-code", [ids["体验群"]])
    for member in ("a", "b", "c"):
        joined = await join_code(onboarding, "trial-code", member)
        assert joined["group_id"] == ids["体验群"] and joined["tier"] == "trial"
    moved = []
    for n, member in enumerate(("a", "b", "c")):
        paid = await onboarding.pay(cid, member, f"p-{n}")
        assert paid.status_code == 201, paid.text
        moved.append(paid.json()["membership"]["group_id"])
    assert sorted(moved[:2]) == sorted([ids["核心1群"], ids["核心2群"]])
    assert moved[2] == ids["体验群"]  # no core group has room: the payment still succeeds
    counts = {n: g["member_count"] for n, g in (await groups_by_name(onboarding, cid)).items()}
    assert counts == {"体验群": 1, "核心1群": 1, "核心2群": 1}
    changes = await onboarding.events(TIER_CHANGED)
    assert [(e.data["from_tier"], e.data["to_tier"], e.data["reason"]) for e in changes] == [
        ("trial", "core", "payment")
    ] * 3
    assert [e.data["from_group_id"] for e in changes] == [ids["体验群"]] * 3
    assert [e.data["to_group_id"] for e in changes] == moved


async def test_reaching_the_level_moves_a_member_out_of_the_trial_group(
    onboarding: Onboarding,
) -> None:
    groups = [{"name": "新人群", "kind": "trial"}, {"name": "核心群", "kind": "core"}]
    upgrade = {"on": ["level"], "level": 3}
    community = await onboarding.community(groups=groups, auto_upgrade=upgrade)
    cid = community["id"]
    ids = {name: g["id"] for name, g in (await groups_by_name(onboarding, cid)).items()}
    await routing_code(onboarding, cid, "newbies", [ids["新人群"]])
    joined = await join_code(onboarding, "newbies", "m-1")
    assert joined["group_id"] == ids["新人群"]
    await report_level(onboarding, "m-1", 2)
    assert await onboarding.events(TIER_CHANGED) == []
    await report_level(onboarding, "m-1", 3)
    await report_level(onboarding, "m-1", 4)  # already out: nothing more
    [event] = await onboarding.events(TIER_CHANGED)
    assert (event.data["from_group_id"], event.data["to_group_id"]) == (
        ids["新人群"],
        ids["核心群"],
    )
    assert event.data["reason"] == "level" and event.data["to_tier"] == "core"
    mine = await onboarding.client.get(f"{BASE}/me/memberships", headers=onboarding.member("m-1"))
    assert mine.json()["items"][0]["group_id"] == ids["核心群"]


# ---------------------------------------------------------------- renewal reminders


async def pending_reminders(onboarding: Onboarding) -> list[Any]:
    async with onboarding.engine.connect() as connection:
        query = select(timers).where(timers.c.kind == REMINDER_TIMER, timers.c.fired_at.is_(None))
        return list((await connection.execute(query.order_by(timers.c.due_at))).all())


async def test_renewal_reminders_fire_once_and_renewals_move_them(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(term_days=30, renewal_reminder_days=[7, 1])
    paid = await onboarding.pay(community["id"], "crm-1", "p-1")
    first_end = datetime.fromisoformat(paid.json()["membership"]["term_ends_at"])
    armed = await pending_reminders(onboarding)
    assert [r.due_at for r in armed] == [
        first_end - timedelta(days=7),
        first_end - timedelta(days=1),
    ]
    runner = TimerRunner(onboarding.sessions, {REMINDER_TIMER: remind_renewal})
    assert await runner.fire_due(first_end - timedelta(days=6)) == 1
    [due] = await onboarding.events(RENEWAL_DUE)
    assert due.data["days_left"] == 7 and due.data["tier"] == "core"
    assert datetime.fromisoformat(due.data["term_ends_at"]) == first_end
    # The same timer handled again (a redelivery) publishes nothing more.
    seven = armed[0]
    timer = Timer(seven.id, seven.kind, seven.key, seven.due_at, seven.payload, 0)
    async with transaction(onboarding.sessions) as session:
        await remind_renewal(session, timer)
    assert len(await onboarding.events(RENEWAL_DUE)) == 1
    # A renewal moves the term: the old one-day reminder is gone, and stale if it fired.
    renewed = await onboarding.pay(community["id"], "crm-1", "p-2")
    new_end = datetime.fromisoformat(renewed.json()["membership"]["term_ends_at"])
    assert new_end == first_end + timedelta(days=30)
    one = armed[1]
    stale = Timer(one.id, one.kind, one.key, one.due_at, one.payload, 0)
    async with transaction(onboarding.sessions) as session:
        await remind_renewal(session, stale)
    assert await runner.fire_due(first_end) == 0
    assert len(await onboarding.events(RENEWAL_DUE)) == 1
    assert [r.due_at for r in await pending_reminders(onboarding)] == [
        new_end - timedelta(days=7),
        new_end - timedelta(days=1),
    ]
    assert await runner.fire_due(new_end - timedelta(hours=1)) == 2
    latest = (await onboarding.events(RENEWAL_DUE))[1:]
    assert [e.data["days_left"] for e in latest] == [7, 1]
    assert {datetime.fromisoformat(e.data["term_ends_at"]) for e in latest} == {new_end}


async def test_reminders_skip_the_past_and_left_members(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(trial_days=3, renewal_reminder_days=[7, 1])
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member("crm-1")
    )
    [armed] = await pending_reminders(onboarding)  # 7 days before a 3-day trial is the past
    assert armed.payload["days_before"] == 1
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("crm-1")
    )
    runner = TimerRunner(onboarding.sessions, {REMINDER_TIMER: remind_renewal})
    assert await runner.fire_due(utcnow() + timedelta(days=3)) == 1
    assert await onboarding.events(RENEWAL_DUE) == []  # no seat: no reminder
