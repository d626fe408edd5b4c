"""Recurring posts over the API on SQLite and PostgreSQL, timers fired by a test clock:
早安 at 07:30 for a Shanghai and a New York community, each at its own 07:30, each
occurrence published once, one post per zone; stopped, nothing more goes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from content.recurring import handlers
from servicekit.db import transaction
from servicekit.timers import Timer
from servicekit.types import utcnow

CT = "/v1/content"
POSTED = "quanzi.content.post.published.v1"
SH, NY = "Asia/Shanghai", "America/New_York"
TODAY = utcnow().date().isoformat()  # a start near today: rules walk from their start


async def zones(api: Any) -> None:
    at = utcnow()
    await api.deliver(api.zone("c-1", SH, at), api.zone("c-2", NY, at))


def template(*communities: str, body: str = "早安") -> dict[str, Any]:
    return {"kind": "text", "body": body, "audience": {"community_ids": list(communities)}}


async def recurring(api: Any, post: dict[str, Any], rule: str, start: str) -> Any:
    return await api.client.post(
        f"{CT}/recurring", json={"post": post, "rule": rule, "start": start}, headers=api.operator()
    )


def first_at(made: dict[str, Any], zone: str) -> datetime:
    return min(datetime.fromisoformat(o["at"]) for o in made["upcoming"] if o["zone"] == zone)


async def test_zao_an_goes_out_at_each_communitys_0730_once(api: Any) -> None:
    await zones(api)
    answer = await recurring(api, template("c-1", "c-2"), "FREQ=DAILY", f"{TODAY}T07:30:00")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert made["zones"] == {SH: ["c-1"], NY: ["c-2"]}
    sh, ny = first_at(made, SH), first_at(made, NY)
    for zone, at in ((SH, sh), (NY, ny)):
        local = at.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (7, 30) and at > utcnow()

    assert await api.fire_timers(min(sh, ny) - timedelta(seconds=1)) == 0
    # Which community's 07:30 comes first depends on the hour the test runs at.
    (earlier, first_ids), (later, second_ids) = sorted([(sh, ["c-1"]), (ny, ["c-2"])])
    assert await api.fire_timers(earlier) == 1
    [first] = await api.published(POSTED)
    assert first.data["community_ids"] == first_ids
    assert await api.fire_timers(later) == 1
    posts = await api.published(POSTED)
    assert [p.data["community_ids"] for p in posts] == [first_ids, second_ids]
    assert await api.fire_timers(max(sh, ny)) == 0  # the next ones are a day on

    # the same occurrence again (a second replica, a crash after the commit): nothing new
    payload = {"tenant_id": "t-acme", "recurring_id": made["id"], "zone": SH}
    timer = Timer(0, "content.recurring", "k", sh, {**payload, "occurrence": sh.isoformat()}, 0)
    async with transaction(api.app.state.sessions) as session:
        await handlers.publish_due(session, timer)
    assert len(await api.published(POSTED)) == 2

    next_first = earlier + timedelta(days=1)  # no DST change in either zone that week
    assert await api.fire_timers(next_first) == 1
    assert len(await api.published(POSTED)) == 3
    shown = (await api.client.get(f"{CT}/recurring/{made['id']}", headers=api.operator())).json()
    assert all(r["post_id"] and r["failure"] is None for r in shown["recent"])
    occurrences = {datetime.fromisoformat(r["occurrence"]) for r in shown["recent"]}
    assert occurrences == {sh, ny, next_first}

    stopped = await api.client.post(f"{CT}/recurring/{made['id']}/stop", headers=api.operator())
    assert stopped.status_code == 200 and stopped.json()["upcoming"] == []
    again = await api.client.post(f"{CT}/recurring/{made['id']}/stop", headers=api.operator())
    assert again.status_code == 409
    assert await api.fire_timers(next_first + timedelta(days=3)) >= 1  # they fire, and do nothing
    assert len(await api.published(POSTED)) == 3


async def test_weekly_theme_in_one_zone_is_one_post_for_its_communities(api: Any) -> None:
    at = utcnow()
    await api.deliver(api.zone("c-1", SH, at), api.zone("c-3", SH, at))
    rule = "FREQ=WEEKLY;BYDAY=MO"
    made = (
        await recurring(api, template("c-1", "c-3", body="周一主题"), rule, f"{TODAY}T20:00:00")
    ).json()
    assert made["zones"] == {SH: ["c-1", "c-3"]}
    upcoming = [datetime.fromisoformat(o["at"]) for o in made["upcoming"]]
    assert len(upcoming) == 5 and all(b - a == timedelta(days=7) for a, b in pairwise(upcoming))
    assert all(u.astimezone(ZoneInfo(SH)).weekday() == 0 for u in upcoming)
    assert await api.fire_timers(upcoming[0]) == 1
    [post] = await api.published(POSTED)
    assert sorted(post.data["community_ids"]) == ["c-1", "c-3"]  # one stored post
    listed = (await api.client.get(f"{CT}/recurring", headers=api.operator())).json()
    assert [item["id"] for item in listed["items"]] == [made["id"]]


async def test_bad_recurring_posts_are_named_and_write_nothing(api: Any) -> None:
    await zones(api)
    start = f"{TODAY}T07:30:00"
    cases = [
        (template("c-1"), "FREQ=SOMETIMES", start, 422, "rrule-invalid"),
        (template("c-1"), "FREQ=MINUTELY", start, 422, "rrule-too-frequent"),
        (template("c-1"), "FREQ=DAILY;COUNT=1", start, 422, "rrule-ended"),
        (template("c-1"), "FREQ=DAILY", f"{TODAY}T07:30:00+08:00", 422, "rrule-invalid"),
        (template("c-1"), "FREQ=DAILY", "2001-01-01T07:30:00", 422, "start-out-of-range"),
        (template("c-3"), "FREQ=DAILY", start, 422, "timezone-unknown"),
        (template("c-404"), "FREQ=DAILY", start, 404, "not-found"),
        (
            {"kind": "text", "body": "x", "audience": {"tenant_wide": True}},
            "FREQ=DAILY",
            start,
            422,
            "recurring-needs-communities",
        ),
    ]
    for post, rule, when, status, slug in cases:
        answer = await recurring(api, post, rule, when)
        assert answer.status_code == status, (slug, answer.text)
        assert answer.json()["type"].endswith("/" + slug), answer.text
    member = await api.client.post(
        f"{CT}/recurring",
        json={"post": template("c-1"), "rule": "FREQ=DAILY", "start": start},
        headers=api.member("m-1"),
    )
    assert member.status_code == 403
    assert (await api.client.get(f"{CT}/recurring", headers=api.operator())).json()["items"] == []
    assert await api.fire_timers(datetime(2030, 1, 1, tzinfo=UTC)) == 0
