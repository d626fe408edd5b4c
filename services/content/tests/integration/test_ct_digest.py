"""The daily digest (日报) over the API on SQLite and PostgreSQL, with a test clock: the
day's most engaged posts of a community, previewed, then published once at its local
time as a post and a ``digest.published`` event."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from content.digest import handlers
from content.digest.domain import next_run
from servicekit.db import transaction
from servicekit.timers import Timer
from servicekit.types import utcnow

CT = "/v1/content"
DIGEST = "quanzi.content.digest.published.v1"
POSTED = "quanzi.content.post.published.v1"
SH = ZoneInfo("Asia/Shanghai")


async def engaged_day(api: Any) -> dict[str, str]:
    await api.deliver(api.zone("c-1", "Asia/Shanghai", utcnow()))
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    ids = {}
    for name in ("liked", "shared", "quiet", "recommended"):
        answer = await api.post(api.operator(), body=f"{name} 的帖子", title=name)
        ids[name] = answer.json()["id"]
    for member in ("m-1", "m-2", "m-3"):  # 3 likes: 3
        await api.client.put(f"{CT}/posts/{ids['liked']}/like", headers=api.member(member))
    for member in ("m-1", "m-2"):  # 2 shares: 6
        await api.client.post(f"{CT}/posts/{ids['shared']}/shares", headers=api.member(member))
    await api.client.post(f"{CT}/posts/{ids['recommended']}/recommend", headers=api.operator())
    other = await api.post(api.operator(), audience={"community_ids": ["c-2"]})  # elsewhere
    await api.client.put(f"{CT}/posts/{other.json()['id']}/like", headers=api.member("m-1"))
    return ids


async def test_preview_then_publish_once_at_the_local_time(api: Any) -> None:
    ids = await engaged_day(api)
    expected = [ids["shared"], ids["recommended"], ids["liked"]]  # 6, 5, 3; quiet left out
    preview = await api.client.get(f"{CT}/communities/c-1/digest/preview", headers=api.operator())
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert [p["post_id"] for p in shown["posts"]] == expected
    assert shown["day"] == utcnow().astimezone(SH).date().isoformat()
    assert shown["body"].splitlines()[0].startswith("1. shared")
    assert await api.published(DIGEST) == []  # a preview publishes nothing

    setting = await api.client.put(
        f"{CT}/communities/c-1/digest",
        json={"local_time": "23:59", "enabled": True},
        headers=api.operator("admin"),
    )
    assert setting.status_code == 200, setting.text
    day, due = next_run(time(23, 59), SH, utcnow())
    assert await api.fire_timers(due - timedelta(seconds=1)) == 0
    assert await api.fire_timers(due) == 1
    [published] = await api.published(DIGEST)
    assert published.data["day"] == day.isoformat() and published.key == "c-1"
    if day.isoformat() == shown["day"]:  # not the last minute of the local day
        assert published.data["post_ids"] == expected
    digest_post = published.data["post_id"]
    post = (await api.client.get(f"{CT}/posts/{digest_post}", headers=api.member("m-1"))).json()
    assert post["title"] == f"日报 {day.isoformat()}" and post["tags"] == ["日报"]

    # the same timer again (a second replica, a crash after the commit): no second digest
    payload = {"tenant_id": "t-acme", "community_id": "c-1", "day": day.isoformat()}
    timer = Timer(0, "content.digest", "k", due, {**payload, "at": due.isoformat()}, 0)
    async with transaction(api.app.state.sessions) as session:
        await handlers.publish_due(session, timer)
    assert len(await api.published(DIGEST)) == 1
    # the next day is armed; a quiet day posts nothing (and the digest never lists itself)
    assert await api.fire_timers(due + timedelta(days=1)) == 1
    assert len(await api.published(DIGEST)) == 1


async def test_a_switched_off_or_moved_digest_does_not_go_out_at_the_old_time(api: Any) -> None:
    await engaged_day(api)
    path = f"{CT}/communities/c-1/digest"
    await api.client.put(path, json={"local_time": "23:58"}, headers=api.operator("admin"))
    _, first = next_run(time(23, 58), SH, utcnow())
    await api.client.put(
        path, json={"local_time": "23:58", "enabled": False}, headers=api.operator("admin")
    )
    assert await api.fire_timers(first) == 1  # it fires, and finds the digest off
    assert await api.published(DIGEST) == []


async def test_bad_digest_settings_are_named(api: Any) -> None:
    await api.deliver(api.zone("c-1", "Asia/Shanghai", utcnow()))
    cases = [
        ("c-3", {"local_time": "21:00"}, api.operator("admin"), 422, "timezone-unknown"),
        ("c-404", {"local_time": "21:00"}, api.operator("admin"), 404, "not-found"),
        ("c-1", {"local_time": "25:00"}, api.operator("admin"), 422, None),
        ("c-1", {"local_time": "21:00"}, api.member("m-1"), 403, "forbidden"),
        ("c-1", {"local_time": "21:00"}, api.operator("activity_officer"), 403, "forbidden"),
    ]
    for community, body, headers, status, slug in cases:
        answer = await api.client.put(
            f"{CT}/communities/{community}/digest", json=body, headers=headers
        )
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        if slug:
            assert answer.json()["type"].endswith("/" + slug)
    assert await api.fire_timers(datetime(2030, 1, 1, tzinfo=UTC)) == 0


async def test_an_operator_edits_the_digest_before_it_goes_out(api: Any) -> None:
    ids = await engaged_day(api)
    await api.client.put(
        f"{CT}/communities/c-1/digest", json={"local_time": "23:59"}, headers=api.operator("admin")
    )
    day, due = next_run(time(23, 59), SH, utcnow())
    path = f"{CT}/communities/c-1/digest/{day.isoformat()}"
    text = {"title": "今日日报（编辑版）", "body": "1. 编辑推荐的好帖"}
    edited = await api.client.put(path, json=text, headers=api.operator())
    assert edited.status_code == 200, edited.text
    assert (edited.json()["title"], edited.json()["edited"]) == (text["title"], True)
    preview = await api.client.get(
        f"{CT}/communities/c-1/digest/preview?day={day.isoformat()}", headers=api.operator()
    )
    assert preview.json()["body"] == text["body"] and preview.json()["published"] is False

    assert await api.fire_timers(due) == 1
    [published] = await api.published(DIGEST)
    post = (
        await api.client.get(f"{CT}/posts/{published.data['post_id']}", headers=api.operator())
    ).json()
    assert (post["title"], post["body"]) == (text["title"], text["body"])
    if day.isoformat() == utcnow().astimezone(SH).date().isoformat():
        assert published.data["post_ids"][0] == ids["shared"]  # the ranking still names them
    late = await api.client.put(path, json=text, headers=api.operator())
    assert late.status_code == 409 and late.json()["type"].endswith("/digest-published")
    bad = await api.client.put(
        f"{CT}/communities/c-1/digest/not-a-day", json=text, headers=api.operator()
    )
    assert bad.status_code == 422
