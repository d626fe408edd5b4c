"""Operators' use cases: earning rules and their versions, levels, settings, reports.

Rules are versioned: a change writes a new version and switches the old one off in
the same transaction, so the consumer always sees exactly one version in force;
entries keep the version they came from. The tenant's defaults are written before
any of this (``service.set_up_tenant``), so an operator's first rule can never
collide with a default written later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rewards import service
from rewards.domain.levels import LevelProgress, LevelScheme
from rewards.domain.rules import EarningRule
from rewards.ledger import DEFAULT_NOTICE_DAYS
from rewards.repository import ReportRow, Repository, RuleHeadRow, RuleVersionRow
from servicekit.db import read_only, transaction
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

MAX_REPORT_DAYS = 366
REPORT_GROUPS = ("rule", "community", "day")

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
    await service.set_up_tenant(session, tenant_id)
    rule_id = rule_id or f"r-{uuid.uuid4().hex[:12]}"
    rule = parse_rule({**raw, "rule_id": rule_id, "version": 1})
    repo = Repository(session)
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
    await service.set_up_tenant(session, tenant_id)
    repo = Repository(session)
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
    await service.set_up_tenant(session, tenant_id)
    repo = Repository(session)
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


async def _head(repo: Repository, tenant_id: str, rule_id: str) -> RuleHeadRow:
    head = await repo.rule_head(tenant_id, rule_id)
    assert head is not None  # written in this transaction
    return head


# ----------------------------------------------------------------- levels


async def save_levels(session: AsyncSession, tenant_id: str, scheme: LevelScheme) -> datetime:
    """New thresholds and names. Not retroactive: stored levels move (and
    ``level.changed`` goes out) at each member's next ledger change; reads show the
    level under the new thresholds at once."""
    await service.set_up_tenant(session, tenant_id)
    now = utcnow()
    await Repository(session).save_level_scheme(tenant_id, scheme, now)
    return now


async def save_notice_days(session: AsyncSession, tenant_id: str, days: int) -> None:
    """Applies to lots credited from now on; timers already set keep their time."""
    await Repository(session).save_notice_days(tenant_id, days, utcnow())


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class RuleDetail:
    head: RuleHeadRow
    versions: list[RuleVersionRow]


@dataclass(frozen=True)
class Levels:
    scheme: LevelScheme
    updated_at: datetime | None  # None: the defaults, never changed


@dataclass(frozen=True)
class MyLevel:
    member_id: str
    lifetime: int
    progress: LevelProgress
    next_name: str | None


@dataclass(frozen=True)
class Report:
    first: date
    last: date
    totals: ReportRow
    groups: list[ReportRow]


class ReportPeriodError(ValueError):
    pass


def report_period(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """Both ends inclusive (UTC days); by default the 30 days ending today."""
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last:
        raise ReportPeriodError("from must not be after to")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ReportPeriodError(f"a report covers at most {MAX_REPORT_DAYS} days")
    return first, last


class Admin:
    """Operators' reads, one transaction each."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def rules(
        self,
        tenant_id: str,
        *,
        after: str | None,
        limit: int,
        event_type: str | None,
        community_id: str | None,
        archived: bool | None,
    ) -> list[RuleHeadRow]:
        # A write transaction: a tenant that never had an event gets its defaults now,
        # so the list shows the rules that will apply.
        async with transaction(self.sessions) as session:
            await service.set_up_tenant(session, tenant_id)
            return await Repository(session).rule_heads_page(
                tenant_id,
                after=after,
                limit=limit,
                event_type=event_type,
                community_id=community_id,
                archived=archived,
            )

    async def rule(self, tenant_id: str, rule_id: str) -> RuleDetail:
        async with transaction(self.sessions) as session:
            await service.set_up_tenant(session, tenant_id)
            repo = Repository(session)
            head = await repo.rule_head(tenant_id, rule_id)
            if head is None:
                raise not_found("rule")
            return RuleDetail(head, await repo.rule_versions(tenant_id, rule_id))

    async def levels(self, tenant_id: str) -> Levels:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            return Levels(
                await repo.level_scheme(tenant_id), await repo.level_scheme_updated_at(tenant_id)
            )

    async def notice_days(self, tenant_id: str) -> int:
        async with read_only(self.sessions) as session:
            days = await Repository(session).notice_days(tenant_id)
        return DEFAULT_NOTICE_DAYS if days is None else days

    async def my_level(self, tenant_id: str, member_id: str) -> MyLevel:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            wallet = await repo.wallet(tenant_id, member_id)
            scheme = await repo.level_scheme(tenant_id)
        lifetime = wallet.lifetime if wallet else 0
        progress = scheme.progress(lifetime)
        following = progress.level if progress.next_level_at is not None else None
        next_name = scheme.names[following] if following is not None else None
        return MyLevel(member_id, lifetime, progress, next_name)

    async def report(
        self,
        tenant_id: str,
        first: date,
        last: date,
        *,
        community_id: str | None,
        group_by: str | None,
    ) -> Report:
        start = datetime.combine(first, time(), UTC)
        end = datetime.combine(last + timedelta(days=1), time(), UTC)
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            [totals] = await repo.report(
                tenant_id, start, end, community_id=community_id, group_by=None
            )
            groups = []
            if group_by is not None:
                groups = await repo.report(
                    tenant_id, start, end, community_id=community_id, group_by=group_by
                )
        return Report(first, last, totals, groups)
