"""Queries of auto-moderation: the tenant's rules (read in one statement per screened
item), flood limits, and a member's recent posts and comments in a community."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.moderation.domain import Action, Rule, RuleKind, RuleSet
from content.orm import comments, flood_limits, moderation_rules, post_communities, posts
from content.posts.repository import After, Row
from servicekit.db import dialect_insert

TENANT_SCOPE = "*"

_RULES = sa.select(
    moderation_rules.c.id,
    moderation_rules.c.kind,
    moderation_rules.c.pattern,
    moderation_rules.c.action,
    moderation_rules.c.strike,
    moderation_rules.c.written,
).where(moderation_rules.c.tenant_id == sa.bindparam("tenant_id"))

# The community's own limit and the tenant's default, in one read.
_LIMITS = sa.select(flood_limits).where(
    flood_limits.c.tenant_id == sa.bindparam("tenant_id"),
    flood_limits.c.scope.in_([sa.bindparam("community_id"), TENANT_SCOPE]),
)


def rule_of(row: Any) -> Rule:
    return Rule(
        id=row.id,
        kind=RuleKind(row.kind),
        pattern=row.pattern,
        action=Action(row.action),
        strike=row.strike,
        written=row.written,
    )


class ModerationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- the hot path: what screening reads ---

    async def rules(self, tenant_id: str) -> RuleSet:
        """Every rule of the tenant, in one statement (bounded by ``MAX_RULES``), arranged
        for matching."""
        rows = (await self.session.execute(_RULES, {"tenant_id": tenant_id})).all()
        return RuleSet.of(rule_of(row) for row in rows)

    async def limits(self, tenant_id: str, community_id: str) -> dict[str, Row]:
        """The community's flood limit row and the tenant's default, by scope."""
        params = {"tenant_id": tenant_id, "community_id": community_id}
        return {row.scope: row for row in (await self.session.execute(_LIMITS, params)).all()}

    async def recent_items(
        self, tenant_id: str, member_id: str, community_id: str, since: datetime, limit: int
    ) -> list[datetime]:
        """When the member wrote their newest ``limit`` posts and comments in the community
        after ``since`` (deleted and rejected ones count: deleting does not reset a flood)."""
        of_posts = (
            sa.select(posts.c.created_at.label("at"))
            .join(post_communities, post_communities.c.post_id == posts.c.id)
            .where(
                posts.c.tenant_id == tenant_id,
                posts.c.author_id == member_id,
                posts.c.author_kind == "member",
                posts.c.created_at > since,
                post_communities.c.tenant_id == tenant_id,
                post_communities.c.community_id == community_id,
            )
        )
        of_comments = sa.select(comments.c.created_at.label("at")).where(
            comments.c.tenant_id == tenant_id,
            comments.c.author_id == member_id,
            comments.c.author_kind == "member",
            comments.c.community_id == community_id,
            comments.c.created_at > since,
        )
        both = sa.union_all(of_posts, of_comments).subquery()
        query = sa.select(both.c.at).order_by(both.c.at.desc()).limit(limit)
        return list((await self.session.scalars(query)).all())

    # --- rules: management ---

    async def count_rules(self, tenant_id: str) -> int:
        query = sa.select(sa.func.count()).where(moderation_rules.c.tenant_id == tenant_id)
        return int(await self.session.scalar(query) or 0)

    async def add_rule(self, values: dict[str, Any]) -> bool:
        """False when the tenant has a rule of that kind and pattern already."""
        insert = dialect_insert(self.session, moderation_rules).values(values)
        result = await self.session.execute(insert.on_conflict_do_nothing())
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def rule(self, tenant_id: str, rule_id: str, *, lock: bool = False) -> Row | None:
        query = sa.select(moderation_rules).where(
            moderation_rules.c.tenant_id == tenant_id, moderation_rules.c.id == rule_id
        )
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).first()

    async def rule_by_pattern(self, tenant_id: str, kind: str, pattern: str) -> Row | None:
        query = sa.select(moderation_rules).where(
            moderation_rules.c.tenant_id == tenant_id,
            moderation_rules.c.kind == kind,
            moderation_rules.c.pattern == pattern,
        )
        return (await self.session.execute(query)).first()

    async def update_rule(self, rule_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.update(moderation_rules).where(moderation_rules.c.id == rule_id).values(values)
        )

    async def delete_rule(self, tenant_id: str, rule_id: str) -> bool:
        result = await self.session.execute(
            sa.delete(moderation_rules).where(
                moderation_rules.c.tenant_id == tenant_id, moderation_rules.c.id == rule_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def rules_page(
        self,
        tenant_id: str,
        kind: str | None,
        action: str | None,
        after: After,
        limit: int,
    ) -> Sequence[Row]:
        """Newest first, keyset on ``(created_at, id)``."""
        query = sa.select(moderation_rules).where(moderation_rules.c.tenant_id == tenant_id)
        if kind is not None:
            query = query.where(moderation_rules.c.kind == kind)
        if action is not None:
            query = query.where(moderation_rules.c.action == action)
        at, key = moderation_rules.c.created_at, moderation_rules.c.id
        if after is not None:
            query = query.where(sa.or_(at < after[0], sa.and_(at == after[0], key < after[1])))
        query = query.order_by(at.desc(), key.desc()).limit(limit)
        return (await self.session.execute(query)).all()

    # --- flood limits: management ---

    async def limit(self, tenant_id: str, scope: str) -> Row | None:
        query = sa.select(flood_limits).where(
            flood_limits.c.tenant_id == tenant_id, flood_limits.c.scope == scope
        )
        return (await self.session.execute(query)).first()

    async def save_limit(self, tenant_id: str, scope: str, values: dict[str, Any]) -> None:
        insert = dialect_insert(self.session, flood_limits).values(
            tenant_id=tenant_id, scope=scope, **values
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[flood_limits.c.tenant_id, flood_limits.c.scope], set_=values
            )
        )

    async def drop_limit(self, tenant_id: str, scope: str) -> bool:
        result = await self.session.execute(
            sa.delete(flood_limits).where(
                flood_limits.c.tenant_id == tenant_id, flood_limits.c.scope == scope
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
