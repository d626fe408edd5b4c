"""Revisions 0006 and 0008 index and score posts written before them (both backends)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from content.orm import posts  # 0003 leaves the posts table as 0002 made it
from content.top.domain import Engagement, score
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini


async def test_posts_written_before_the_index_are_indexed_and_scored(database_url: str) -> None:
    ini = alembic_ini("content")
    await asyncio.to_thread(upgrade, ini, database_url, "0002")
    engine = create_async_engine(database_url)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    post = {
        "id": "p-old",
        "tenant_id": "t-1",
        "author_id": "op-1",
        "author_kind": "operator",
        "kind": "text",
        "title": "旧帖",
        "body": "社群运营",
        "media": [],
        "link": None,
        "audience": {"community_ids": ["c-1"]},
        "tags": ["打卡"],
        "pinned": False,
        "review_state": "approved",
        "version": 1,
        "comment_count": 0,
        "like_count": 0,
        "share_count": 0,
        "bookmark_count": 0,
        "created_at": at,
        "updated_at": at,
    }
    async with engine.begin() as connection:
        await connection.execute(sa.insert(posts), post)
    await asyncio.to_thread(upgrade, ini, database_url)
    async with engine.connect() as connection:
        grams = set((await connection.execute(sa.text("SELECT gram FROM post_grams"))).scalars())
        tags = (await connection.execute(sa.text("SELECT tag, post_id FROM post_tags"))).all()
        scored = (
            await connection.execute(sa.text("SELECT view_count, top_score FROM posts"))
        ).one()
    await engine.dispose()
    assert {"社群", "运营", "旧帖", "打卡", "社"} <= grams
    assert [tuple(row) for row in tags] == [("打卡", "p-old")]
    # revision 0008 scores it for feed "top": 11 months after the scores' epoch
    assert scored[0] == 0 and scored[1] == score(Engagement(), at)
