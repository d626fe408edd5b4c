"""Scheduled posts over the API on SQLite and PostgreSQL, with the timers fired by a test
clock (``api.fire_timers(at)``): published once at the community's wall-clock time,
moved or cancelled before then, refused with a named 4xx when the time makes no sense."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from content.schedules import handlers
from servicekit.db import transaction
from servicekit.timers import Timer
from servicekit.types import utcnow

CT = "/v1/content"
POSTED = "quanzi.content.post.published.v1"
SHANGHAI, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def zones(api: Any) -> None:
    at = utcnow()
    await api.deliver(api.zone("c-1", "Asia/Shanghai", at), api.zone("c-2", "America/New_York", at))


def morning_post(*communities: str, body: str = "早安") -> dict[str, Any]:
    return {"kind": "text", "body": body, "audience": {"community_ids": list(communities)}}


async def schedule(api: Any, post: dict[str, Any], when: str) -> Any:
    return await api.client.post(
        f"{CT}/schedules", json={"post": post, "publish_at": when}, headers=api.operator()
    )


def tomorrow_at(tz: ZoneInfo, hour: int, minute: int) -> datetime:
    """Tomorrow's wall-clock time in ``tz``, naive (as an operator types it)."""
    day = utcnow().astimezone(tz).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute)


async def test_a_post_scheduled_at_a_local_time_is_published_once(api: Any) -> None:
    await zones(api)
    local = tomorrow_at(SHANGHAI, 7, 30)
    due = local.replace(tzinfo=SHANGHAI).astimezone(UTC)
    answer = await schedule(api, morning_post("c-1"), local.isoformat())
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["state"] == "scheduled" and made["timezone"] == "Asia/Shanghai"
    assert datetime.fromisoformat(made["publish_at"]) == due
    page = (await api.client.get(f"{CT}/communities/c-1/posts", headers=api.operator())).json()
    assert page["items"] == [] and await api.published(POSTED) == []

    assert await api.fire_timers(due - timedelta(seconds=1)) == 0
    assert await api.fire_timers(due) == 1
    done = (await api.client.get(f"{CT}/schedules/{made['id']}", headers=api.operator())).json()
    assert done["state"] == "published" and done["post_id"]
    post = (await api.client.get(f"{CT}/posts/{done['post_id']}", headers=api.operator())).json()
    assert post["body"] == "早安" and post["review_state"] == "approved"
    assert datetime.fromisoformat(post["created_at"]) >= due

    # A second runner (or the same timer after a crash) finds it published: no second post.
    assert await api.fire_timers(due + timedelta(hours=1)) == 0
    timer = Timer(0, "content.schedule", made["id"], due, _payload(made), 0)
    async with transaction(api.app.state.sessions) as session:
        await handlers.publish_due(session, timer)
    [published] = await api.published(POSTED)
    assert published.data["post_id"] == done["post_id"]
    page = (await api.client.get(f"{CT}/communities/c-1/posts", headers=api.operator())).json()
    assert [item["id"] for item in page["items"]] == [done["post_id"]]


def _payload(made: dict[str, Any]) -> dict[str, Any]:
    return {"tenant_id": "t-acme", "schedule_id": made["id"]}


async def test_move_or_cancel_before_then(api: Any) -> None:
    start = utcnow().replace(microsecond=0) + timedelta(hours=2)
    moved = (await schedule(api, morning_post("c-1"), start.isoformat())).json()
    cancelled = (await schedule(api, morning_post("c-2"), start.isoformat())).json()
    later = start + timedelta(hours=3)
    path = f"{CT}/schedules/{moved['id']}"
    answer = await api.client.patch(
        path, json={"publish_at": later.isoformat()}, headers=api.operator()
    )
    assert (
        answer.status_code == 200 and datetime.fromisoformat(answer.json()["publish_at"]) == later
    )
    stop = await api.client.post(f"{CT}/schedules/{cancelled['id']}/cancel", headers=api.operator())
    assert stop.status_code == 200 and stop.json()["state"] == "cancelled"

    assert await api.fire_timers(start + timedelta(minutes=1)) == 0  # both left that time
    assert await api.fire_timers(later) == 1
    assert len(await api.published(POSTED)) == 1
    listed = (await api.client.get(f"{CT}/schedules", headers=api.operator())).json()["items"]
    assert {(s["id"], s["state"]) for s in listed} == {
        (moved["id"], "published"),
        (cancelled["id"], "cancelled"),
    }
    for schedule_id in (moved["id"], cancelled["id"]):  # neither is pending any more
        again = await api.client.post(
            f"{CT}/schedules/{schedule_id}/cancel", headers=api.operator()
        )
        move = await api.client.patch(
            f"{CT}/schedules/{schedule_id}",
            json={"publish_at": later.isoformat()},
            headers=api.operator(),
        )
        assert (again.status_code, move.status_code) == (409, 409)
        assert again.json()["type"].endswith("/schedule-not-pending")
    assert await api.fire_timers(later + timedelta(days=1)) == 0


async def test_wall_clock_times_in_new_york_across_dst(api: Any) -> None:
    await zones(api)
    cases = {
        "2027-03-13T07:30:00": utc(2027, 3, 13, 12, 30),  # EST (UTC-5)
        "2027-03-14T02:30:00": utc(2027, 3, 14, 7, 30),  # skipped: lands at 03:30 EDT
        "2027-03-15T07:30:00": utc(2027, 3, 15, 11, 30),  # EDT (UTC-4)
        "2027-11-07T01:30:00": utc(2027, 11, 7, 5, 30),  # repeated: the first, EDT
        "2027-11-08T07:30:00": utc(2027, 11, 8, 12, 30),  # EST again
    }
    for local, expected in cases.items():
        answer = await schedule(api, morning_post("c-2"), local)
        assert answer.status_code == 201, answer.text
        assert datetime.fromisoformat(answer.json()["publish_at"]) == expected, local
    sh = await schedule(api, morning_post("c-1"), "2027-03-14T07:30:00")
    assert datetime.fromisoformat(sh.json()["publish_at"]) == utc(2027, 3, 13, 23, 30)


async def test_bad_schedules_are_named_and_write_nothing(api: Any) -> None:
    await zones(api)
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    naive = tomorrow_at(SHANGHAI, 7, 30).isoformat()
    tenant_wide = {"kind": "text", "body": "x", "audience": {"tenant_wide": True}}
    cases = [
        (
            morning_post("c-1"),
            (utcnow() - timedelta(minutes=1)).isoformat(),
            422,
            "publish-at-past",
        ),
        (
            morning_post("c-1"),
            (utcnow() + timedelta(days=400)).isoformat(),
            422,
            "publish-at-too-far",
        ),
        (tenant_wide, naive, 422, "timezone-unknown"),
        (morning_post("c-1", "c-2"), naive, 422, "timezone-unknown"),  # two zones
        (morning_post("c-3"), naive, 422, "timezone-unknown"),  # none announced
        (morning_post("c-404"), soon, 404, "not-found"),
        (
            {"kind": "link", "body": "x", "audience": {"community_ids": ["c-1"]}},
            soon,
            422,
            "link-required",
        ),
    ]
    for post, when, status, slug in cases:
        answer = await schedule(api, post, when)
        assert answer.status_code == status, (slug, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/" + slug), answer.text
    as_member = await api.client.post(
        f"{CT}/schedules",
        json={"post": morning_post("c-1"), "publish_at": soon},
        headers=api.member("m-1"),
    )
    assert as_member.status_code == 403
    listed = (await api.client.get(f"{CT}/schedules", headers=api.operator())).json()
    assert listed["items"] == []
    missing = await api.client.get(f"{CT}/schedules/nope", headers=api.operator())
    assert missing.status_code == 404


async def test_a_tenant_wide_or_multi_zone_post_takes_an_instant(api: Any) -> None:
    await zones(api)
    at = (utcnow() + timedelta(hours=5)).replace(microsecond=0)
    answer = await schedule(api, morning_post("c-1", "c-2"), at.isoformat())
    assert answer.status_code == 201, answer.text
    assert datetime.fromisoformat(answer.json()["publish_at"]) == at
    assert await api.fire_timers(at) == 1
    [published] = await api.published(POSTED)
    assert sorted(published.data["community_ids"]) == ["c-1", "c-2"]  # one post, two communities


async def test_the_projection_keeps_each_communitys_newest_zone(api: Any) -> None:
    now = utcnow()
    await api.deliver(
        api.community("c-ny", timezone="America/New_York"),
        api.zone("c-1", "Asia/Shanghai", now),
        api.zone("c-1", "America/New_York", now - timedelta(hours=1)),  # older: ignored
        api.zone("c-2", "Not/AZone", now),  # unknown zone: ignored
    )
    local = "2027-01-05T07:30:00"
    expected = {"c-ny": utc(2027, 1, 5, 12, 30), "c-1": utc(2027, 1, 4, 23, 30)}
    for community, at in expected.items():
        answer = await schedule(api, morning_post(community), local)
        assert datetime.fromisoformat(answer.json()["publish_at"]) == at, community
    unknown = await schedule(api, morning_post("c-2"), local)
    assert unknown.status_code == 422
