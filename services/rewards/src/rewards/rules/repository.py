"""Queries of earning rules: the versions (``earning_rules``), one head per rule
(``rule_heads``) and the tenants whose defaults are written. Scoped by the tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.orm import earning_rules, rule_heads, tenants
from rewards.rules.domain import EarningRule
from servicekit.db import insert_ignore


@dataclass(frozen=True)
class RuleHeadRow:
    """A rule as operators see it: the version in force and whether it is archived."""

    tenant_id: str
    rule_id: str
    version: int
    event_type: str
    community_id: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    rule: EarningRule


@dataclass(frozen=True)
class RuleVersionRow:
    rule: EarningRule
    active: bool
    created_at: datetime


class RuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set_up_tenant(
        self, tenant_id: str, rules: Sequence[EarningRule], now: datetime
    ) -> bool:
        """Write a tenant's default rules once; True when this call wrote them."""
        if not await insert_ignore(
            self.session, tenants, {"tenant_id": tenant_id, "set_up_at": now}
        ):
            return False
        for rule in rules:
            await self.insert_rule_version(tenant_id, rule, now)
            await self.insert_rule_head(tenant_id, rule, now, None)
        return True

    async def active_rules(self, tenant_id: str, event_type: str) -> list[EarningRule]:
        rows = await self.session.execute(
            select(earning_rules.c.definition)
            .where(
                earning_rules.c.tenant_id == tenant_id,
                earning_rules.c.event_type == event_type,
                earning_rules.c.active.is_(True),
            )
            .order_by(earning_rules.c.rule_id)
        )
        return [EarningRule.from_dict(definition) for (definition,) in rows]

    # ------------------------------------------------------- rules (operators)

    async def insert_rule_version(
        self, tenant_id: str, rule: EarningRule, now: datetime, *, active: bool = True
    ) -> None:
        await self.session.execute(
            earning_rules.insert().values(
                tenant_id=tenant_id,
                rule_id=rule.rule_id,
                version=rule.version,
                event_type=rule.event_type,
                definition=rule.to_dict(),
                active=active,
                created_at=now,
            )
        )

    async def deactivate_rule_version(self, tenant_id: str, rule_id: str, version: int) -> None:
        await self.session.execute(
            update(earning_rules)
            .where(
                earning_rules.c.tenant_id == tenant_id,
                earning_rules.c.rule_id == rule_id,
                earning_rules.c.version == version,
            )
            .values(active=False)
        )

    async def insert_rule_head(
        self, tenant_id: str, rule: EarningRule, now: datetime, by: str | None
    ) -> bool:
        """False when the tenant already has a rule with that id."""
        values = {
            "tenant_id": tenant_id,
            "rule_id": rule.rule_id,
            "version": rule.version,
            "event_type": rule.event_type,
            "community_id": rule.community_id,
            "archived_at": None,
            "created_at": now,
            "updated_at": now,
            "updated_by": by,
        }
        return await insert_ignore(self.session, rule_heads, values)

    async def update_rule_head(self, tenant_id: str, rule_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(rule_heads)
            .where(rule_heads.c.tenant_id == tenant_id, rule_heads.c.rule_id == rule_id)
            .values(**values)
        )

    async def rule_head(
        self, tenant_id: str, rule_id: str, *, lock: bool = False
    ) -> RuleHeadRow | None:
        """With its version in force; ``lock`` queues concurrent editors of the rule."""
        query = _heads_query().where(
            rule_heads.c.tenant_id == tenant_id, rule_heads.c.rule_id == rule_id
        )
        if lock:
            query = query.with_for_update(of=rule_heads)
        row = (await self.session.execute(query)).mappings().first()
        return _rule_head(row) if row else None

    async def rule_heads_page(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        event_type: str | None = None,
        community_id: str | None = None,
        archived: bool | None = None,
    ) -> list[RuleHeadRow]:
        """By rule id (stable while rules change); ``limit + 1`` rows."""
        query = _heads_query().where(rule_heads.c.tenant_id == tenant_id)
        if event_type is not None:
            query = query.where(rule_heads.c.event_type == event_type)
        if community_id is not None:
            query = query.where(rule_heads.c.community_id == community_id)
        if archived is not None:
            archived_at = rule_heads.c.archived_at
            query = query.where(archived_at.is_not(None) if archived else archived_at.is_(None))
        if after is not None:
            query = query.where(rule_heads.c.rule_id > after)
        query = query.order_by(rule_heads.c.rule_id).limit(limit + 1)
        return [_rule_head(row) for row in (await self.session.execute(query)).mappings()]

    async def rule_versions(self, tenant_id: str, rule_id: str) -> list[RuleVersionRow]:
        """Newest first."""
        rows = await self.session.execute(
            select(earning_rules)
            .where(earning_rules.c.tenant_id == tenant_id, earning_rules.c.rule_id == rule_id)
            .order_by(earning_rules.c.version.desc())
        )
        return [
            RuleVersionRow(
                EarningRule.from_dict(row["definition"]), bool(row["active"]), row["created_at"]
            )
            for row in rows.mappings()
        ]


def _heads_query() -> Any:
    version = and_(
        earning_rules.c.tenant_id == rule_heads.c.tenant_id,
        earning_rules.c.rule_id == rule_heads.c.rule_id,
        earning_rules.c.version == rule_heads.c.version,
    )
    return select(rule_heads, earning_rules.c.definition).select_from(
        rule_heads.join(earning_rules, version)
    )


def _rule_head(row: Any) -> RuleHeadRow:
    values = {name: row[name] for name in RuleHeadRow.__dataclass_fields__ if name != "rule"}
    return RuleHeadRow(**values, rule=EarningRule.from_dict(row["definition"]))
