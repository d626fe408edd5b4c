"""Auto-moderation over the API on SQLite and PostgreSQL: rules managed by operators, a
member's posts, comments and edits refused (nothing written) or held (the rule named), flood
control on a moved clock, and the ``item.flagged`` events onboarding counts as strikes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from servicekit.types import utcnow

CT = "/v1/content"
FLAGGED = "quanzi.content.item.flagged.v1"
HELD = "quanzi.content.post.held.v1"


async def _rule(api: Any, **body: Any) -> dict[str, Any]:
    answer = await api.client.post(
        f"{CT}/moderation/rules", json=body, headers=api.operator("owner")
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _auto_approve(api: Any, community_id: str = "c-1") -> None:
    """Members at level 1 publish without review: what a rule holds is then visibly held."""
    answer = await api.client.put(
        f"{CT}/communities/{community_id}/settings",
        json={"auto_approve_level": 1},
        headers=api.operator("owner"),
    )
    assert answer.status_code == 200, answer.text


def _at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """The test clock of the write routes."""
    for module in ("content.posts.api", "content.engagement.api"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: when)


async def test_operators_manage_rules_with_pages_and_named_problems(api: Any) -> None:
    owner = api.operator("owner")
    made = await _rule(api, kind="keyword", pattern="加微信", action="block", note="广告")
    assert (made["pattern"], made["normalised"], made["strike"]) == ("加微信", "加微信", True)
    # the same keyword written with spaces and full-width letters is the same rule
    await _rule(api, kind="keyword", pattern="ＶＸ号", action="hold")
    same = await api.client.post(
        f"{CT}/moderation/rules",
        json={"kind": "keyword", "pattern": "vx 号", "action": "block"},
        headers=owner,
    )
    assert same.status_code == 409 and same.json()["type"].endswith("/rule-exists")
    link = await _rule(api, kind="link", pattern="https://Spam.Example.COM/a", action="block")
    assert link["normalised"] == "spam.example.com"
    bad_patterns = (
        {"kind": "link", "pattern": "not a domain"},
        {"kind": "keyword", "pattern": "\u200b"},  # nothing visible
    )
    for bad in bad_patterns:
        answer = await api.client.post(
            f"{CT}/moderation/rules", json={**bad, "action": "block"}, headers=owner
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"

    first = (await api.client.get(f"{CT}/moderation/rules?limit=2", headers=owner)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await api.client.get(
        f"{CT}/moderation/rules?limit=2&cursor={first['next_cursor']}", headers=owner
    )
    ids = [r["id"] for r in first["items"]] + [r["id"] for r in rest.json()["items"]]
    assert len(set(ids)) == 3 and made["id"] in ids and rest.json()["next_cursor"] is None
    blocks = (await api.client.get(f"{CT}/moderation/rules?action=block", headers=owner)).json()
    assert {r["id"] for r in blocks["items"]} == {made["id"], link["id"]}

    changed = await api.client.patch(
        f"{CT}/moderation/rules/{made['id']}",
        json={"action": "hold", "strike": False, "note": None},
        headers=owner,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["action"], changed.json()["strike"], changed.json()["note"]) == (
        "hold",
        False,
        None,
    )
    nulled = await api.client.patch(
        f"{CT}/moderation/rules/{made['id']}", json={"action": None}, headers=owner
    )
    assert nulled.status_code == 422
    # members and activity officers do not write rules; activity officers read them
    member = await api.client.post(
        f"{CT}/moderation/rules",
        json={"kind": "keyword", "pattern": "x", "action": "block"},
        headers=api.member("m-1"),
    )
    assert member.status_code == 403
    officer = api.operator("activity_officer")
    reader = await api.client.get(f"{CT}/moderation/rules", headers=officer)
    assert reader.status_code == 200
    gone = await api.client.delete(f"{CT}/moderation/rules/{made['id']}", headers=owner)
    assert gone.status_code == 204
    again = await api.client.get(f"{CT}/moderation/rules/{made['id']}", headers=owner)
    assert again.status_code == 404


async def test_a_blocked_post_is_refused_with_the_rule_named_and_nothing_written(
    api: Any,
) -> None:
    await api.seat("m-1")
    rule = await _rule(api, kind="keyword", pattern="加微信", action="block")
    # "加wei信" is another keyword: it goes through
    other = await api.post(api.member("m-1"), title="福利", body="想要资料的 加 ＷＥＩ\u200b信 吧")
    assert other.status_code == 201, other.text
    refused = await api.post(api.member("m-1"), body="想要资料的 加 微\u3000信 私聊")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/content-blocked")
    assert (problem["rule_id"], problem["rule_kind"], problem["rule_pattern"]) == (
        rule["id"],
        "keyword",
        "加微信",
    )
    assert "加微信" in problem["detail"]
    mine = (await api.client.get(f"{CT}/me/posts", headers=api.member("m-1"))).json()
    assert [p["body"] for p in mine["items"]] == ["想要资料的 加 ＷＥＩ\u200b信 吧"]
    flagged = await api.published(FLAGGED)
    assert len(flagged) == 1
    data = flagged[0].data
    assert (data["target_kind"], data["target_id"], data["action"], data["strike"]) == (
        "post",
        None,
        "block",
        True,
    )
    assert (data["member_id"], data["community_id"], data["rule_id"]) == ("m-1", "c-1", rule["id"])
    assert flagged[0].key == "m-1" and flagged[0].topic == "content.moderation"
    # operators are not screened
    assert (await api.post(api.operator(), body="加微信")).status_code == 201


async def test_a_hold_rule_holds_whatever_the_level_and_the_queue_names_it(api: Any) -> None:
    await api.seat("m-1")
    await _auto_approve(api)
    rule = await _rule(api, kind="keyword", pattern="傻瓜", action="hold", strike=False)
    await _rule(api, kind="keyword", pattern="傻瓜相机", action="allow")
    clean = await api.post(api.member("m-1"), body="新买的傻瓜相机")  # inside the allowed word
    assert clean.json()["review_state"] == "approved"
    held = await api.post(api.member("m-1"), body="你这个傻瓜")
    assert held.status_code == 201 and held.json()["review_state"] == "pending"
    assert held.json()["moderation"] == {
        "rule_id": rule["id"],
        "kind": "keyword",
        "pattern": "傻瓜",
        "action": "hold",
    }
    queue = (await api.client.get(f"{CT}/review/posts", headers=api.operator())).json()
    assert [(p["id"], p["moderation"]["rule_id"]) for p in queue["items"]] == [
        (held.json()["id"], rule["id"])
    ]
    flagged = await api.published(FLAGGED)
    assert [(e.data["target_id"], e.data["action"], e.data["strike"]) for e in flagged] == [
        (held.json()["id"], "hold", False)
    ]
    assert HELD in [e.type for e in await api.published()]
    # a comment is held the same way
    post = (await api.post(api.operator(), body="讨论")).json()
    comment = await api.client.post(
        f"{CT}/posts/{post['id']}/comments", json={"body": "傻 瓜"}, headers=api.member("m-1")
    )
    assert comment.status_code == 201 and comment.json()["review_state"] == "pending"
    assert comment.json()["moderation"]["rule_id"] == rule["id"]
    queue = (await api.client.get(f"{CT}/review/comments", headers=api.operator())).json()
    assert queue["items"][0]["moderation"]["pattern"] == "傻瓜"


async def test_link_rules_go_by_domain_and_an_allow_wins(api: Any) -> None:
    await api.seat("m-1")
    await _auto_approve(api)
    everything = await _rule(api, kind="link", pattern="*", action="hold")
    await _rule(api, kind="link", pattern="example.com", action="allow")
    spam = await _rule(api, kind="link", pattern="spam.cn", action="block")

    def state(answer: Any) -> str:
        assert answer.status_code in (201, 422), answer.text
        return str(answer.json().get("review_state") or answer.json()["type"].split("/")[-1])

    member = api.member("m-1")
    assert state(await api.post(member, body="文档见 https://docs.example.com/a")) == "approved"
    assert state(await api.post(member, body="看这里https://evil.io获取")) == "pending"
    assert state(await api.post(member, body="node.js 和 readme.md")) == "approved"  # no link
    assert state(await api.post(member, body="访问 www。spam。cn 领取")) == "content-blocked"
    assert state(await api.post(member, body="私信 spam.cn")) == "content-blocked"  # bare name
    link = {"url": "https://m.spam.cn/x", "title": "福利"}
    blocked = await api.post(member, kind="link", body="", link=link)
    assert state(blocked) == "content-blocked" and blocked.json()["rule_id"] == spam["id"]
    held = await api.post(member, kind="link", body="", link={"url": "https://other.org"})
    assert held.json()["moderation"]["rule_id"] == everything["id"]


async def test_an_edit_is_screened_like_a_new_post(api: Any) -> None:
    await api.seat("m-1")
    await _auto_approve(api)
    await _rule(api, kind="keyword", pattern="代购", action="block")
    hold = await _rule(api, kind="keyword", pattern="私聊", action="hold")
    post = (await api.post(api.member("m-1"), body="今天打卡")).json()
    assert post["review_state"] == "approved"
    url = f"{CT}/posts/{post['id']}"
    refused = await api.client.patch(url, json={"body": "专业代购"}, headers=api.member("m-1"))
    assert refused.status_code == 422 and refused.json()["type"].endswith("/content-blocked")
    kept = (await api.client.get(url, headers=api.member("m-1"))).json()
    assert (kept["body"], kept["version"]) == ("今天打卡", 1)
    held = await api.client.patch(url, json={"body": "有事私聊"}, headers=api.member("m-1"))
    assert held.status_code == 200 and held.json()["review_state"] == "pending"
    assert held.json()["moderation"]["rule_id"] == hold["id"]
    assert [e.data["target_id"] for e in await api.published(FLAGGED)] == [None, post["id"]]


async def test_flood_control_counts_posts_and_comments_per_member_and_community(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.seat("m-1")
    await api.seat("m-2")
    await api.seat("m-1", "c-2")
    owner = api.operator("owner")
    put = await api.client.put(
        f"{CT}/moderation/flood", json={"max_items": 3, "window_seconds": 60}, headers=owner
    )
    assert put.status_code == 200 and put.json()["scope"] == "tenant"
    start = utcnow()
    target = (await api.post(api.operator(), body="公告")).json()
    _at(monkeypatch, start)
    assert (await api.post(api.member("m-1"))).status_code == 201
    _at(monkeypatch, start + timedelta(seconds=10))
    comment = await api.client.post(
        f"{CT}/posts/{target['id']}/comments", json={"body": "1"}, headers=api.member("m-1")
    )
    assert comment.status_code == 201
    _at(monkeypatch, start + timedelta(seconds=20))
    assert (await api.post(api.member("m-1"))).status_code == 201
    _at(monkeypatch, start + timedelta(seconds=30))
    flooded = await api.post(api.member("m-1"))
    assert flooded.status_code == 429, flooded.text
    assert flooded.headers["retry-after"] == "30"  # when the first leaves the window
    assert flooded.json()["type"].endswith("/flood") and flooded.json()["rule_kind"] == "flood"
    again = await api.client.post(
        f"{CT}/posts/{target['id']}/comments", json={"body": "2"}, headers=api.member("m-1")
    )
    assert again.status_code == 429
    # another member, and the same member in another community, are not held back
    assert (await api.post(api.member("m-2"))).status_code == 201
    elsewhere = await api.post(api.member("m-1"), audience={"community_ids": ["c-2"]})
    assert elsewhere.status_code == 201
    # a minute after the first, one more fits
    _at(monkeypatch, start + timedelta(seconds=60))
    assert (await api.post(api.member("m-1"))).status_code == 201
    # a community's own setting wins over the tenant's: off in c-1
    off = await api.client.put(
        f"{CT}/communities/c-1/flood", json={"max_items": None}, headers=owner
    )
    assert off.status_code == 200 and off.json()["scope"] == "community"
    assert (await api.post(api.member("m-1"))).status_code == 201
    flood = (await api.client.get(f"{CT}/communities/c-2/flood", headers=owner)).json()
    assert (flood["scope"], flood["max_items"]) == ("tenant", 3)
    dropped = await api.client.delete(f"{CT}/communities/c-1/flood", headers=owner)
    assert dropped.status_code == 204
    assert (await api.post(api.member("m-1"))).status_code == 429
    refusals = [e.data for e in await api.published(FLAGGED)]
    assert [(d["target_kind"], d["rule_kind"], d["action"]) for d in refusals] == [
        ("post", "flood", "block"),
        ("comment", "flood", "block"),
        ("post", "flood", "block"),
    ]


async def test_a_hold_flood_limit_holds_instead_of_refusing(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.seat("m-1")
    await _auto_approve(api)
    await api.client.put(
        f"{CT}/communities/c-1/flood",
        json={"max_items": 1, "window_seconds": 300, "action": "hold", "strike": False},
        headers=api.operator("owner"),
    )
    _at(monkeypatch, utcnow())
    assert (await api.post(api.member("m-1"))).json()["review_state"] == "approved"
    held = (await api.post(api.member("m-1"))).json()
    assert held["review_state"] == "pending"
    assert held["moderation"] == {
        "rule_id": None,
        "kind": "flood",
        "pattern": "1 in 300s",
        "action": "hold",
    }
