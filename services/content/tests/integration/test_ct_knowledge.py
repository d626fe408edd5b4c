"""The knowledge base over the API, on SQLite and PostgreSQL: Chinese search with ranking
and snippets, only what the reader may see; 精华, collections, tags."""

from __future__ import annotations

from typing import Any

CT = "/v1/content"
FEATURED = "quanzi.content.post.featured.v1"
UNFEATURED = "quanzi.content.post.unfeatured.v1"


async def _post(api: Any, **body: Any) -> dict[str, Any]:
    answer = await api.post(api.operator(), **body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _search(api: Any, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = await api.client.get(f"{CT}/search", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


async def test_two_and_one_character_chinese_queries_find_posts(api: Any) -> None:
    await api.seat("m-1")
    body = "每天早上七点打卡，坚持二十一天。社群运营的第一步是把规则讲清楚。"
    post = await _post(api, body=body, title="新人必读")
    await _post(api, body="今天的分享是读书方法")
    for query in ("打卡", "社群运营", "卡", "新人"):
        found = await _search(api, api.member("m-1"), q=query)
        assert [hit["post"]["id"] for hit in found] == [post["id"]], query
    hit = (await _search(api, api.member("m-1"), q="社群运营"))[0]
    ((start, end),) = hit["highlights"]
    assert hit["snippet"][start:end] == "社群运营"
    assert await _search(api, api.member("m-1"), q="运营社群") == []  # pairs apart: no match


async def test_ranking_puts_title_hits_and_more_hits_first(api: Any) -> None:
    await api.seat("m-1")
    once = await _post(api, body="我们也聊打卡这件事")
    thrice = await _post(api, body="打卡、打卡、再打卡")
    titled = await _post(api, body="方法如下：打卡", title="打卡指南")
    found = await _search(api, api.member("m-1"), q="打卡")
    assert [hit["post"]["id"] for hit in found] == [titled["id"], thrice["id"], once["id"]]
    scores = [hit["score"] for hit in found]
    assert scores == sorted(scores, reverse=True)


async def test_search_returns_only_posts_the_member_may_see(api: Any) -> None:
    await api.seat("m-1")  # c-1, core
    await api.seat("m-2", "c-2")
    seen = await _post(api, body="打卡规则")
    await _post(api, body="打卡规则（二群）", audience={"community_ids": ["c-2"]})
    await _post(api, body="打卡规则（高级）", audience={"community_ids": ["c-1"], "min_level": 5})
    held = await api.post(api.member("m-1"), body="我的打卡心得")
    assert held.json()["review_state"] == "pending"
    tenant_wide = await _post(api, body="全员打卡", audience={"tenant_wide": True})
    found = await _search(api, api.member("m-1"), q="打卡")
    assert {hit["post"]["id"] for hit in found} == {seen["id"], tenant_wide["id"]}
    everything = await _search(api, api.operator(), q="打卡")
    assert len(everything) == 4  # operators: every published post; held ones stay in review
    in_c2 = await api.client.get(
        f"{CT}/search", params={"q": "打卡", "community_id": "c-2"}, headers=api.member("m-1")
    )
    assert in_c2.status_code == 403 and in_c2.json()["type"].endswith("/not-a-member")


async def test_edits_and_deletes_move_the_index(api: Any) -> None:
    await api.seat("m-1")
    post = await _post(api, body="早安打卡")
    edit = await api.client.patch(
        f"{CT}/posts/{post['id']}", json={"body": "晚安复盘"}, headers=api.operator()
    )
    assert edit.status_code == 200
    assert await _search(api, api.member("m-1"), q="打卡") == []
    assert len(await _search(api, api.member("m-1"), q="复盘")) == 1
    await api.client.post(
        f"{CT}/posts/{post['id']}/delete", json={"reason": "过期"}, headers=api.operator()
    )
    assert await _search(api, api.member("m-1"), q="复盘") == []


async def test_bad_queries_are_problems(api: Any) -> None:
    for q in ("，。！", "", "字" * 65):
        answer = await api.client.get(f"{CT}/search", params={"q": q}, headers=api.operator())
        assert answer.status_code == 422, q
        assert answer.headers["content-type"] == "application/problem+json"
    unknown = await api.client.get(
        f"{CT}/search", params={"q": "打卡", "community_id": "c-9"}, headers=api.operator()
    )
    assert unknown.status_code == 404


async def test_featured_marks_once_ranks_higher_and_lists(api: Any) -> None:
    await api.seat("m-1")
    plain = await _post(api, body="打卡方法")
    best = await _post(api, body="打卡方法")
    mark = await api.client.put(
        f"{CT}/posts/{best['id']}/featured", json={"note": "值得收藏"}, headers=api.operator()
    )
    assert mark.status_code == 200 and mark.json()["note"] == "值得收藏"
    again = await api.client.put(
        f"{CT}/posts/{best['id']}/featured", json={"note": "再次"}, headers=api.operator()
    )
    assert again.json()["note"] == "值得收藏"  # the first mark stays
    assert len(await api.published(FEATURED)) == 1
    found = await _search(api, api.member("m-1"), q="打卡")
    assert [h["post"]["id"] for h in found] == [best["id"], plain["id"]]
    assert [h["featured"] for h in found] == [True, False]
    only = await _search(api, api.member("m-1"), q="打卡", featured="true")
    assert [h["post"]["id"] for h in only] == [best["id"]]
    listed = await api.client.get(f"{CT}/communities/c-1/featured", headers=api.member("m-1"))
    assert [p["id"] for p in listed.json()["items"]] == [best["id"]]
    # members may not mark; withdrawing sends one event
    refused = await api.client.put(
        f"{CT}/posts/{plain['id']}/featured", json={}, headers=api.member("m-1")
    )
    assert refused.status_code == 403
    for _ in range(2):
        gone = await api.client.delete(f"{CT}/posts/{best['id']}/featured", headers=api.operator())
        assert gone.status_code == 204
    assert len(await api.published(UNFEATURED)) == 1
    listed = await api.client.get(f"{CT}/communities/c-1/featured", headers=api.member("m-1"))
    assert listed.json()["items"] == []


async def test_a_held_post_cannot_be_featured(api: Any) -> None:
    await api.seat("m-1")
    held = (await api.post(api.member("m-1"), body="待审")).json()
    answer = await api.client.put(
        f"{CT}/posts/{held['id']}/featured", json={}, headers=api.operator()
    )
    assert answer.status_code == 409 and answer.json()["type"].endswith("/not-published")


async def test_featured_pages_follow_the_cursor(api: Any) -> None:
    await api.seat("m-1")
    ids = []
    for n in range(5):
        post = await _post(api, body=f"第{n}篇")
        await api.client.put(f"{CT}/posts/{post['id']}/featured", json={}, headers=api.operator())
        ids.append(post["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await api.client.get(
                f"{CT}/communities/c-1/featured", params=params, headers=api.member("m-1")
            )
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5


async def test_collections_hold_a_communitys_posts_for_its_members(api: Any) -> None:
    await api.seat("m-1")
    await api.seat("m-2", "c-2")
    first = await _post(api, body="第一课")
    second = await _post(api, body="第二课", audience={"community_ids": ["c-1"], "min_level": 9})
    elsewhere = await _post(api, body="二群的课", audience={"community_ids": ["c-2"]})
    made = await api.client.post(
        f"{CT}/communities/c-1/collections", json={"name": "新人课程"}, headers=api.operator()
    )
    assert made.status_code == 201
    cid = made.json()["id"]
    twice = await api.client.post(
        f"{CT}/communities/c-1/collections", json={"name": "新人课程"}, headers=api.operator()
    )
    assert twice.status_code == 409
    for post, code in ((first, 201), (second, 201), (first, 200), (elsewhere, 422)):
        answer = await api.client.put(
            f"{CT}/collections/{cid}/posts/{post['id']}", headers=api.operator()
        )
        assert answer.status_code == code, answer.text
    detail = (await api.client.get(f"{CT}/collections/{cid}", headers=api.member("m-1"))).json()
    assert [p["id"] for p in detail["posts"]] == [first["id"]]  # level 9 is hidden
    full = (await api.client.get(f"{CT}/collections/{cid}", headers=api.operator())).json()
    assert [p["id"] for p in full["posts"]] == [first["id"], second["id"]]
    outsider = await api.client.get(f"{CT}/collections/{cid}", headers=api.member("m-2"))
    assert outsider.status_code == 404
    listed = await api.client.get(f"{CT}/communities/c-1/collections", headers=api.member("m-1"))
    assert [(c["name"], c["post_count"]) for c in listed.json()] == [("新人课程", 2)]
    removed = await api.client.delete(
        f"{CT}/collections/{cid}/posts/{first['id']}", headers=api.operator()
    )
    assert removed.status_code == 204
    again = await api.client.delete(
        f"{CT}/collections/{cid}/posts/{first['id']}", headers=api.operator()
    )
    assert again.status_code == 404


async def test_tags_count_what_the_reader_may_see_and_filter_search(api: Any) -> None:
    await api.seat("m-1")
    a = await _post(api, body="打卡一", tags=["打卡", "新人"])
    await _post(api, body="打卡二", tags=["打卡"])
    await _post(
        api,
        body="打卡三",
        tags=["打卡", "进阶"],
        audience={"community_ids": ["c-1"], "min_level": 9},
    )
    tags = await api.client.get(f"{CT}/communities/c-1/tags", headers=api.member("m-1"))
    assert [(t["tag"], t["count"]) for t in tags.json()] == [("打卡", 2), ("新人", 1)]
    ops = await api.client.get(f"{CT}/communities/c-1/tags", headers=api.operator())
    assert ("进阶", 1) in [(t["tag"], t["count"]) for t in ops.json()]
    found = await _search(api, api.member("m-1"), q="打卡", tag="新人")
    assert [h["post"]["id"] for h in found] == [a["id"]]
    by_tag_text = await _search(api, api.member("m-1"), q="新人")
    assert [h["post"]["id"] for h in by_tag_text] == [a["id"]]  # tags are searched too
