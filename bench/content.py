"""Content benchmark, on PostgreSQL, in one process through the content app over ASGI
(token verification, validation, the use case's transaction, JSON), beside raw indexed
SELECTs on an asyncpg connection to the same database, in the same run.

- **Publishing**: an operator's post to 1 community of 5 members, to 1 community of
  ``--members`` members, and to ``--communities`` communities of ``--members`` members each
  (one stored post, a row per community, an outbox event; fan-out on read, so the member
  count should not show).
- **Feed, first page**: ``GET /feed`` and ``GET /feed/top`` for a member of 20 communities
  with ``--posts`` posts stored across all communities; raw: the same index range read
  (the 20 communities' newest rows joined to their posts, LIMIT 21).
- **Search**: ``GET /search`` over the ``--posts`` Chinese posts for one-, two- and
  four-character queries; raw: one gram's primary-key range read (LIMIT 20).

The audience projection, posts and their search index are loaded with COPY first (not
timed). Printed: p50/p99 per figure and the ratio to its raw baseline. Nothing asserts a
timing. Full results: ``bench/results/content-<UTC timestamp>.json`` (git-ignored).

    uv run --frozen python bench/content.py [--posts 100000] [--communities 200]
                                            [--members 500] [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

import asyncpg
import httpx

from content import app as content_app
from content.knowledge.domain import grams
from content.settings import Settings
from content.top.domain import Engagement, score
from servicekit.devbroker import free_port
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, postgres_admin_dsn

RESULTS = Path(__file__).parent / "results"
TENANT = "t-bench"
READER = "reader"
# Words of the seeds (社群运营): bodies are random runs of them, as members write.
WORDS = [
    "打卡",
    "社群",
    "运营",
    "早安",
    "晚安",
    "日报",
    "精华",
    "新人",
    "分享",
    "读书",
    "学习",
    "复盘",
    "活动",
    "积分",
    "群公告",
    "规则",
    "导师",
    "话题",
    "直播",
    "报名",
    "坚持",
    "习惯",
    "目标",
    "计划",
    "总结",
    "方法",
    "经验",
    "问题",
    "答疑",
    "作业",
    "课程",
    "笔记",
    "心得",
    "感悟",
    "推荐",
    "点赞",
    "评论",
    "成长",
    "伙伴",
    "社群运营",
    "用户",
    "留存",
    "转化",
    "裂变",
    "内容",
    "审核",
    "嘉宾",
    "分舵",
    "舵主",
]
QUERIES = ("卡", "打卡", "社群", "复盘", "社群运营", "群公告")


logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def body(rng: random.Random) -> str:
    parts = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    return "，".join("".join(parts[i : i + 3]) for i in range(0, len(parts), 3)) + "。"


async def load(dsn: str, posts: int, communities: int, members: int) -> None:
    """Communities, seats, levels, posts, their communities and search grams, by COPY."""
    db = await asyncpg.connect(dsn)
    now = datetime.now(UTC).replace(tzinfo=None)  # UtcDateTime stores naive UTC
    try:
        ids = [f"c-{n}" for n in range(communities)] + ["c-small"]
        await db.copy_records_to_table(
            "audience_communities",
            records=[(TENANT, c, c, now) for c in ids],
            columns=["tenant_id", "community_id", "name", "created_at"],
        )
        seats = [
            (
                TENANT,
                f"ms-{c}-{m}",
                f"m-{m}",
                c,
                "active",
                now,
                "core",
                None,
                now,
                None,
                False,
                None,
            )
            for c in ids[:-1]
            for m in range(members)
        ]
        seats += [
            (
                TENANT,
                f"ms-small-{m}",
                f"m-{m}",
                "c-small",
                "active",
                now,
                "core",
                None,
                now,
                None,
                False,
                None,
            )
            for m in range(5)
        ]
        seats += [
            (
                TENANT,
                f"ms-{READER}-{c}",
                READER,
                c,
                "active",
                now,
                "core",
                None,
                now,
                None,
                False,
                None,
            )
            for c in ids[:20]
        ]
        columns = [
            "tenant_id", "membership_id", "member_id", "community_id", "status", "status_at",
            "tier", "group_id", "placed_at", "muted_until", "rules_muted", "mute_at",
        ]  # fmt: skip
        await db.copy_records_to_table("audience_memberships", records=seats, columns=columns)
        rng = random.Random(11)
        chunk = 5_000
        for start in range(0, posts, chunk):
            rows, places, index = [], [], []
            for n in range(start, min(posts, start + chunk)):
                post_id = str(uuid.UUID(int=rng.getrandbits(128)))
                at = now - timedelta(minutes=posts - n)
                community = ids[n % communities]
                text = body(rng)
                rows.append(_post_row(post_id, community, text, at))
                places.append((TENANT, post_id, community, at))
                index += [(TENANT, g, post_id) for g in grams(text)]
            await db.copy_records_to_table("posts", records=rows, columns=POST_COLUMNS)
            await db.copy_records_to_table(
                "post_communities",
                records=places,
                columns=["tenant_id", "post_id", "community_id", "created_at"],
            )
            await db.copy_records_to_table(
                "post_grams", records=index, columns=["tenant_id", "gram", "post_id"]
            )
            note(f"  loaded {min(posts, start + chunk)}/{posts} posts")
        await db.execute("VACUUM ANALYZE")  # as autovacuum leaves a loaded table: visible, planned
    finally:
        await db.close()


POST_COLUMNS = [
    "id", "tenant_id", "author_id", "author_kind", "kind", "title", "body", "media", "link",
    "audience", "tags", "pinned", "review_state", "version", "comment_count", "like_count",
    "share_count", "bookmark_count", "view_count", "top_score", "created_at", "updated_at",
]  # fmt: skip


def _post_row(post_id: str, community: str, text: str, at: datetime) -> tuple[Any, ...]:
    audience = json.dumps({"tenant_wide": False, "community_ids": [community]})
    top = score(Engagement(), at.replace(tzinfo=UTC))
    return (
        post_id, TENANT, "op-1", "operator", "text", None, text, "[]", None, audience, "[]",
        False, "approved", 1, 0, 0, 0, 0, 0, top, at, at,
    )  # fmt: skip


async def timed(action: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    for _ in range(min(10, repeat)):  # warm-up: connections, plans, caches
        await action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def figure(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(times, 0.5), 3),
        "p99_ms": round(percentile(times, 0.99), 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


async def measure(
    client: httpx.AsyncClient, mint: TokenMint, dsn: str, args: Any
) -> dict[str, Any]:
    hour = int(time.time()) + 3600  # tokens outlive the run (the default lives minutes)
    operator_token = mint.mint(
        tenant_id=TENANT, subject="op-1", roles=["content_officer"], exp=hour
    )
    operator = {"Authorization": f"Bearer {operator_token}"}
    reader_token = mint.mint(tenant_id=TENANT, subject=READER, typ="member", exp=hour)
    reader = {"Authorization": f"Bearer {reader_token}"}
    everywhere = [f"c-{n}" for n in range(args.communities)]

    def publish(communities: list[str]) -> Callable[[], Awaitable[Any]]:
        async def go() -> None:
            payload = {
                "kind": "text",
                "body": "早安，今天也要打卡",
                "audience": {"community_ids": communities},
            }
            answer = await client.post("/v1/content/posts", json=payload, headers=operator)
            assert answer.status_code == 201, answer.text

        return go

    def get(path: str, **params: Any) -> Callable[[], Awaitable[Any]]:
        async def go() -> None:
            answer = await client.get(path, params=params, headers=reader)
            assert answer.status_code == 200, answer.text

        return go

    results: dict[str, Any] = {}
    note("publishing")
    results["publish_1_community_5_members"] = figure(
        await timed(publish(["c-small"]), args.repeat)
    )
    results[f"publish_1_community_{args.members}_members"] = figure(
        await timed(publish(["c-0"]), args.repeat)
    )
    results[f"publish_{args.communities}_communities_{args.members}_members"] = figure(
        await timed(publish(everywhere), args.repeat)
    )
    db = await asyncpg.connect(dsn)
    try:
        scope = [f"c-{n}" for n in range(20)] + ["*"]
        raw_feed_sql = (
            "SELECT p.* FROM post_communities pc JOIN posts p ON p.id = pc.post_id "
            "WHERE pc.tenant_id = $1 AND pc.community_id = ANY($2::text[]) "
            "ORDER BY pc.created_at DESC, pc.post_id DESC LIMIT 21"
        )

        async def raw_feed() -> None:
            await db.fetch(raw_feed_sql, TENANT, scope)

        note("feed")
        results["raw_feed_select"] = figure(await timed(raw_feed, args.repeat))
        results["feed_first_page"] = figure(await timed(get("/v1/content/feed"), args.repeat))
        results["feed_top_first_page"] = figure(
            await timed(get("/v1/content/feed/top"), args.repeat)
        )
        note("search")
        raw_gram_sql = "SELECT post_id FROM post_grams WHERE tenant_id = $1 AND gram = $2 LIMIT 20"
        rng = random.Random(5)
        gram_of = {q: (q if len(q) == 1 else q[:2]) for q in QUERIES}

        async def raw_search() -> None:
            await db.fetch(raw_gram_sql, TENANT, gram_of[rng.choice(QUERIES)])

        results["raw_gram_select"] = figure(await timed(raw_search, args.repeat))
        # Where a search's time goes: its candidate SQL alone (the posts holding both grams
        # of "打卡", newest 500), without the audience check, ranking and snippets.
        candidates_sql = (
            "SELECT p.* FROM posts p WHERE p.tenant_id = $1 AND p.id IN ("
            " SELECT post_id FROM post_grams WHERE tenant_id = $1 AND gram = ANY($2::text[])"
            " GROUP BY post_id HAVING count(*) = 1)"
            " ORDER BY p.created_at DESC, p.id DESC LIMIT 500"
        )

        async def raw_candidates() -> None:
            await db.fetch(candidates_sql, TENANT, ["打卡"])

        results["search_candidates_sql_打卡"] = figure(await timed(raw_candidates, args.repeat))
        for q in QUERIES:
            results[f"search_{q}"] = figure(
                await timed(get("/v1/content/search", q=q), args.repeat // 4 or 1)
            )
        every = []
        for q in QUERIES:
            every += await timed(get("/v1/content/search", q=q), args.repeat // len(QUERIES) or 1)
        results["search_all_queries"] = figure(every)
    finally:
        await db.close()
    return results


def report(results: dict[str, Any]) -> None:
    baselines = {"feed": "raw_feed_select", "search": "raw_gram_select"}
    print(f"\n{'figure':<44} {'p50 ms':>9} {'p99 ms':>9} {'p99 / raw p99':>14}")
    for name, values in results.items():
        raw = next((results[b] for prefix, b in baselines.items() if name.startswith(prefix)), None)
        ratio = f"{values['p99_ms'] / raw['p99_ms']:.1f}×" if raw else ""
        print(f"{name:<44} {values['p50_ms']:>9.2f} {values['p99_ms']:>9.2f} {ratio:>14}")


async def run(args: argparse.Namespace) -> None:
    name = f"content_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_dsn().rsplit("/", 1)[0]
    dsn = f"{base}/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(upgrade, alembic_ini("content"), url)
        note("loading")
        started = time.perf_counter()
        await load(dsn, args.posts, args.communities, args.members)
        note(f"loaded in {time.perf_counter() - started:.0f}s")
        mint = TokenMint()
        settings = Settings(
            database_url=url,
            kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # no broker: outbox keeps events
            jwks_json=json.dumps(mint.jwks()),
            timers_enabled=False,
            consumers_enabled=False,
        )
        app = content_app.create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
                results = await measure(client, mint, dsn, args)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    report(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"content-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps({"args": vars(args), "results": results}, indent=2, ensure_ascii=False)
    )
    print(f"\nfull results: {out}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=200)
    return parser.parse_args(argv)


def main() -> None:
    asyncio.run(run(parse_args()))


if __name__ == "__main__":
    main()
