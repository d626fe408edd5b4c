"""Queries of badges: rules, progress and marks. Every lookup is scoped by the tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.badges.domain import BadgeRule, Progress
from rewards.orm import badge_marks, badge_progress, badge_rules, badge_tenants
from servicekit.db import ignore_conflicts, insert_ignore, insert_many, overwrite_on_conflict

# A member's progress on a rule, saved over the stored one.
_OVERWRITE_PROGRESS = overwrite_on_conflict(
    tuple(column.name for column in badge_progress.primary_key.columns),
    ("state", "times", "first_awarded_at", "last_awarded_at", "updated_at"),
)

# Where a keyset page starts: after (created_at, id) in the page's order.
After = tuple[datetime, str] | None
Pair = tuple[str, str]  # (member id, rule id)


@dataclass(frozen=True)
class RuleRow:
    id: str
    tenant_id: str
    rule: BadgeRule
    archived: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MemberBadge:
    """A rule as one member stands on it; ``progress`` is None before their first event."""

    row: RuleRow
    progress: Progress | None


class BadgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ rules

    async def set_up(self, tenant_id: str, rules: Sequence[BadgeRule], now: datetime) -> bool:
        """Write a tenant's default rules once; True when this call wrote them."""
        if not await insert_ignore(
            self.session, badge_tenants, {"tenant_id": tenant_id, "set_up_at": now}
        ):
            return False
        # A microsecond apart: the rules list in the order they are given.
        await self.session.execute(
            badge_rules.insert(),
            [
                _rule_values(tenant_id, rule, now + timedelta(microseconds=i))
                for i, rule in enumerate(rules)
            ],
        )
        return True

    async def is_set_up(self, tenant_id: str) -> bool:
        query = select(badge_tenants.c.tenant_id).where(badge_tenants.c.tenant_id == tenant_id)
        return await self.session.scalar(query) is not None

    async def lock_tenant(self, tenant_id: str) -> None:
        """Serialise changes to a tenant's set of active rules (the cap on their number)."""
        await self.session.execute(
            select(badge_tenants.c.tenant_id)
            .where(badge_tenants.c.tenant_id == tenant_id)
            .with_for_update()
        )

    async def count_active(self, tenant_id: str) -> int:
        query = select(func.count()).where(
            badge_rules.c.tenant_id == tenant_id, badge_rules.c.archived.is_(False)
        )
        return int(await self.session.scalar(query) or 0)

    async def active_rules(self, tenant_id: str, event_types: Iterable[str]) -> list[BadgeRule]:
        """The rules counting events of these types, and every level rule, oldest first."""
        query = (
            select(badge_rules.c.definition)
            .where(
                badge_rules.c.tenant_id == tenant_id,
                badge_rules.c.archived.is_(False),
                or_(
                    badge_rules.c.event_type.in_(list(event_types)),
                    badge_rules.c.event_type.is_(None),
                ),
            )
            .order_by(badge_rules.c.created_at, badge_rules.c.id)
        )
        return [
            BadgeRule.from_dict(definition) for (definition,) in await self.session.execute(query)
        ]

    async def rule(self, tenant_id: str, rule_id: str, *, lock: bool = False) -> RuleRow | None:
        query = select(badge_rules).where(
            badge_rules.c.tenant_id == tenant_id, badge_rules.c.id == rule_id
        )
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return _rule_row(row) if row else None

    async def rules_page(
        self, tenant_id: str, *, after: After, limit: int, archived: bool | None
    ) -> list[RuleRow]:
        """Oldest first, ``limit + 1`` rows."""
        query = select(badge_rules).where(badge_rules.c.tenant_id == tenant_id)
        if archived is not None:
            query = query.where(badge_rules.c.archived.is_(archived))
        if after is not None:
            query = query.where(_beyond(after))
        query = query.order_by(badge_rules.c.created_at, badge_rules.c.id).limit(limit + 1)
        return [_rule_row(row) for row in (await self.session.execute(query)).mappings()]

    async def insert_rule(self, tenant_id: str, rule: BadgeRule, now: datetime) -> None:
        await self.session.execute(badge_rules.insert().values(_rule_values(tenant_id, rule, now)))

    async def update_rule(
        self, tenant_id: str, rule: BadgeRule, archived: bool, now: datetime
    ) -> None:
        await self.session.execute(
            update(badge_rules)
            .where(badge_rules.c.tenant_id == tenant_id, badge_rules.c.id == rule.rule_id)
            .values(definition=rule.to_dict(), archived=archived, updated_at=now)
        )

    # -------------------------------------------------------------- counting

    async def existing_marks(self, tenant_id: str, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = await self.session.execute(
            select(badge_marks.c.key).where(
                badge_marks.c.tenant_id == tenant_id, badge_marks.c.key.in_(list(keys))
            )
        )
        return {str(key) for (key,) in rows}

    async def insert_marks(self, tenant_id: str, keys: Sequence[str], now: datetime) -> None:
        """A plain INSERT: a concurrent transaction counting the same occurrence fails on
        the primary key and is retried, then finds the mark."""
        rows = [{"tenant_id": tenant_id, "key": key, "created_at": now} for key in keys]
        await insert_many(self.session, badge_marks, rows)

    async def progress_locked(
        self, tenant_id: str, pairs: Sequence[Pair], now: datetime
    ) -> dict[Pair, Progress]:
        """Create the missing rows, then lock and load them all, in key order (two batches
        sharing rows queue, never deadlock): two statements."""
        empty = Progress().state()
        rows = [
            {"tenant_id": tenant_id, "member_id": m, "rule_id": r}
            | {"state": empty, "times": 0, "updated_at": now}
            for m, r in sorted(pairs)
        ]
        await insert_many(self.session, badge_progress, rows, conflict=ignore_conflicts)
        query = (
            select(badge_progress)
            .where(
                badge_progress.c.tenant_id == tenant_id,
                badge_progress.c.member_id.in_(sorted({m for m, _ in pairs})),
                badge_progress.c.rule_id.in_(sorted({r for _, r in pairs})),
            )
            .order_by(badge_progress.c.member_id, badge_progress.c.rule_id)
            .with_for_update()
        )
        wanted = set(pairs)
        found = {}
        for row in (await self.session.execute(query)).mappings():
            pair = (str(row["member_id"]), str(row["rule_id"]))
            if pair in wanted:
                found[pair] = _progress(row)
        return found

    async def save_progress(
        self, tenant_id: str, changed: dict[Pair, Progress], now: datetime
    ) -> None:
        """Every changed row in one statement. The rows exist and are locked
        (``progress_locked``): the upsert only ever takes its UPDATE branch; it is how
        ``insert_many`` writes many rows' own values at once."""
        rows = [
            {
                "tenant_id": tenant_id,
                "member_id": member,
                "rule_id": rule_id,
                "state": progress.state(),
                "times": progress.times,
                "first_awarded_at": progress.first_awarded_at,
                "last_awarded_at": progress.last_awarded_at,
                "updated_at": now,
            }
            for (member, rule_id), progress in sorted(changed.items())
        ]

        await insert_many(self.session, badge_progress, rows, conflict=_OVERWRITE_PROGRESS)

    # ------------------------------------------------------------- members

    async def has_progress(self, tenant_id: str, member_id: str) -> bool:
        """The member has progress towards some badge in this tenant."""
        query = select(badge_progress.c.rule_id).where(
            badge_progress.c.tenant_id == tenant_id, badge_progress.c.member_id == member_id
        )
        return await self.session.scalar(query.limit(1)) is not None

    async def member_badges_page(
        self,
        tenant_id: str,
        member_id: str,
        *,
        after: After,
        limit: int,
        earned_only: bool,
    ) -> list[MemberBadge]:
        """Active rules and the archived ones the member earned, in rule order, with the
        member's progress: ``limit + 1`` of them."""
        joined = badge_rules.outerjoin(
            badge_progress,
            and_(
                badge_progress.c.tenant_id == badge_rules.c.tenant_id,
                badge_progress.c.rule_id == badge_rules.c.id,
                badge_progress.c.member_id == member_id,
            ),
        )
        earned = badge_progress.c.times > 0
        query = (
            select(badge_rules, *_PROGRESS_COLUMNS)
            .select_from(joined)
            .where(
                badge_rules.c.tenant_id == tenant_id,
                earned if earned_only else or_(badge_rules.c.archived.is_(False), earned),
            )
        )
        if after is not None:
            query = query.where(_beyond(after))
        query = query.order_by(badge_rules.c.created_at, badge_rules.c.id).limit(limit + 1)
        found = []
        for row in (await self.session.execute(query)).mappings():
            held = row["p_times"] is not None
            found.append(MemberBadge(_rule_row(row), _progress(row, "p_") if held else None))
        return found

    async def titles(self, tenant_id: str, member_id: str) -> list[tuple[str, datetime]]:
        """(title, last awarded) of every badge the member holds whose rule gives one."""
        query = (
            select(badge_rules.c.definition, badge_progress.c.last_awarded_at)
            .select_from(
                badge_progress.join(
                    badge_rules,
                    and_(
                        badge_rules.c.tenant_id == badge_progress.c.tenant_id,
                        badge_rules.c.id == badge_progress.c.rule_id,
                    ),
                )
            )
            .where(
                badge_progress.c.tenant_id == tenant_id,
                badge_progress.c.member_id == member_id,
                badge_progress.c.times > 0,
            )
        )
        rows = await self.session.execute(query)
        return [(str(d["title"]), at) for d, at in rows if d.get("title") and at is not None]


_PROGRESS_COLUMNS = (
    badge_progress.c.state.label("p_state"),
    badge_progress.c.times.label("p_times"),
    badge_progress.c.first_awarded_at.label("p_first_awarded_at"),
    badge_progress.c.last_awarded_at.label("p_last_awarded_at"),
)


def _beyond(after: tuple[datetime, str]) -> Any:
    at, last_id = after
    return or_(
        badge_rules.c.created_at > at,
        and_(badge_rules.c.created_at == at, badge_rules.c.id > last_id),
    )


def _rule_values(tenant_id: str, rule: BadgeRule, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": rule.rule_id,
        "event_type": rule.event_type,
        "definition": rule.to_dict(),
        "archived": False,
        "created_at": now,
        "updated_at": now,
    }


def _rule_row(row: Any) -> RuleRow:
    return RuleRow(
        id=row["id"],
        tenant_id=row["tenant_id"],
        rule=BadgeRule.from_dict(row["definition"]),
        archived=row["archived"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _progress(row: Any, prefix: str = "") -> Progress:
    return Progress.of(
        row[f"{prefix}state"],
        int(row[f"{prefix}times"]),
        row[f"{prefix}first_awarded_at"],
        row[f"{prefix}last_awarded_at"],
    )
