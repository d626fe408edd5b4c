"""Earning rules' use cases: the tenant's defaults, and operators' rules and versions.

Rules are versioned: a change writes a new version and switches the old one off in
the same transaction, so the consumer always sees exactly one version in force;
entries keep the version they came from. The tenant's defaults are written before
any of this (``set_up_tenant``), so an operator's first rule can never collide with a
default written later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.levels.domain import LevelScheme
from rewards.levels.repository import LevelRepository
from rewards.rules.domain import EarningRule
from rewards.rules.repository import RuleHeadRow, RuleRepository, RuleVersionRow
from rewards.rules.sources import default_rules
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

# ---------------------------------------------------------------- tenants


async def set_up_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Default rules and levels, written the first time a tenant's event arrives.

    Lazily rather than from ``gateway.tenant.created``: tenants that existed before
    rewards was deployed get them too, and no ordering between topics is needed.
    """
    scheme, now = LevelScheme(), utcnow()
    if await RuleRepository(session).set_up_tenant(tenant_id, default_rules(), now):
        await LevelRepository(session).insert_scheme(tenant_id, scheme, now)


# ------------------------------------------------------------------ rules


def parse_rule(raw: dict[str, Any]) -> EarningRule:
    """The domain's checks, as a 422 naming what is wrong."""
    try:
        return EarningRule.from_dict(raw)
    except (ValueError, TypeError, KeyError) as error:
        raise Problem(
            422,
            "invalid-rule",
            "Invalid rule",
            str(error),
            errors=[{"location": ["body"], "message": str(error)}],
        ) from error


async def create_rule(
    session: AsyncSession, tenant_id: str, rule_id: str | None, raw: dict[str, Any], by: str
) -> RuleHeadRow:
    await set_up_tenant(session, tenant_id)
    rule_id = rule_id or f"r-{uuid.uuid4().hex[:12]}"
    rule = parse_rule({**raw, "rule_id": rule_id, "version": 1})
    repo = RuleRepository(session)
    now = utcnow()
    if not await repo.insert_rule_head(tenant_id, rule, now, by):
        raise Problem(409, "rule-exists", "Rule exists", f"a rule {rule_id} exists")
    await repo.insert_rule_version(tenant_id, rule, now)
    return await _head(repo, tenant_id, rule_id)


async def update_rule(
    session: AsyncSession, tenant_id: str, rule_id: str, raw: dict[str, Any], by: str
) -> RuleHeadRow:
    """A new version in force; the old one stays, switched off. Concurrent editors of
    one rule queue on its head row, each writing the next version."""
    await set_up_tenant(session, tenant_id)
    repo = RuleRepository(session)
    head = await repo.rule_head(tenant_id, rule_id, lock=True)
    if head is None:
        raise not_found("rule")
    if head.archived_at is not None:
        raise Problem(409, "rule-archived", "Rule archived", "an archived rule cannot change")
    rule = parse_rule({**raw, "rule_id": rule_id, "version": head.version + 1})
    now = utcnow()
    await repo.deactivate_rule_version(tenant_id, rule_id, head.version)
    await repo.insert_rule_version(tenant_id, rule, now)
    await repo.update_rule_head(
        tenant_id,
        rule_id,
        {
            "version": rule.version,
            "event_type": rule.event_type,
            "community_id": rule.community_id,
            "updated_at": now,
            "updated_by": by,
        },
    )
    return await _head(repo, tenant_id, rule_id)


async def archive_rule(session: AsyncSession, tenant_id: str, rule_id: str, by: str) -> RuleHeadRow:
    """No version is in force any more; the history stays. Archiving again changes nothing."""
    await set_up_tenant(session, tenant_id)
    repo = RuleRepository(session)
    head = await repo.rule_head(tenant_id, rule_id, lock=True)
    if head is None:
        raise not_found("rule")
    if head.archived_at is None:
        now = utcnow()
        await repo.deactivate_rule_version(tenant_id, rule_id, head.version)
        await repo.update_rule_head(
            tenant_id, rule_id, {"archived_at": now, "updated_at": now, "updated_by": by}
        )
    return await _head(repo, tenant_id, rule_id)


async def _head(repo: RuleRepository, tenant_id: str, rule_id: str) -> RuleHeadRow:
    head = await repo.rule_head(tenant_id, rule_id)
    assert head is not None  # written in this transaction
    return head


# ------------------------------------------------------------------ reads


@dataclass(frozen=True)
class RuleDetail:
    head: RuleHeadRow
    versions: list[RuleVersionRow]


async def rules_page(
    session: AsyncSession,
    tenant_id: str,
    *,
    after: str | None,
    limit: int,
    event_type: str | None,
    community_id: str | None,
    archived: bool | None,
) -> list[RuleHeadRow]:
    """In a write transaction: a tenant that never had an event gets its defaults now,
    so the list shows the rules that will apply."""
    await set_up_tenant(session, tenant_id)
    return await RuleRepository(session).rule_heads_page(
        tenant_id,
        after=after,
        limit=limit,
        event_type=event_type,
        community_id=community_id,
        archived=archived,
    )


async def rule_detail(session: AsyncSession, tenant_id: str, rule_id: str) -> RuleDetail:
    """In a write transaction, as ``rules_page``."""
    await set_up_tenant(session, tenant_id)
    repo = RuleRepository(session)
    head = await repo.rule_head(tenant_id, rule_id)
    if head is None:
        raise not_found("rule")
    return RuleDetail(head, await repo.rule_versions(tenant_id, rule_id))
