"""Feed "top" and views over the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

CT = "/v1/content"


async def _post(api: Any, **body: Any) -> str:
    answer = await api.post(api.operator(), **body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def _top(api: Any, member: str, **params: Any) -> dict[str, Any]:
    answer = await api.client.get(f"{CT}/feed/top", params=params, headers=api.member(member))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_engaged_posts_rank_first_and_pages_cover_every_post_once(api: Any) -> None:
    for m in ("m-1", "m-2", "m-3"):
        await api.seat(m)
    ids = [await _post(api, body=f"第{n}篇") for n in range(7)]
    hidden = await _post(api, body="高级", audience={"community_ids": ["c-1"], "min_level": 9})
    await _post(api, body="二群", audience={"community_ids": ["c-2"]})
    quiet, shared, liked = ids[0], ids[1], ids[2]
    for m in ("m-2", "m-3"):
        await api.client.put(f"{CT}/posts/{liked}/like", headers=api.member(m))
    await api.client.post(f"{CT}/posts/{shared}/shares", headers=api.member("m-2"))
    await api.client.post(
        f"{CT}/posts/{shared}/comments", json={"body": "好"}, headers=api.operator()
    )
    first = await _top(api, "m-1", limit=3)
    assert [p["id"] for p in first["items"]][:2] == [shared, liked]
    seen = [p["id"] for p in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await _top(api, "m-1", limit=3, cursor=cursor)
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert hidden not in seen
    assert seen[-1] != shared and quiet in seen
    bad = await api.client.get(f"{CT}/feed/top?cursor=WzEsMl0", headers=api.member("m-1"))
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


async def test_views_count_once_per_member_even_at_once(api: Any) -> None:
    await api.seat("m-1")
    await api.seat("m-2")
    post = await _post(api, body="早安")
    answers = await asyncio.gather(
        *(api.client.put(f"{CT}/posts/{post}/view", headers=api.member("m-1")) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {204}
    await api.client.put(f"{CT}/posts/{post}/view", headers=api.member("m-2"))
    detail = (await api.client.get(f"{CT}/posts/{post}", headers=api.operator())).json()
    assert detail["view_count"] == 2
    other = await _post(api, body="晚安")
    top = await _top(api, "m-1")
    # two views outweigh the moments by which the other post is newer
    assert [p["id"] for p in top["items"]] == [post, other]
    # a post the member may not see is a 404, a held one is not viewable either
    hidden = await _post(api, body="x", audience={"community_ids": ["c-2"]})
    refused = await api.client.put(f"{CT}/posts/{hidden}/view", headers=api.member("m-1"))
    assert refused.status_code == 404
    operator = await api.client.put(f"{CT}/posts/{post}/view", headers=api.operator())
    assert operator.status_code == 403
