"""The audit log (操作日志): who did what to which target, why and when.

``record`` is called inside the action's own transaction, so the log and the change commit
or roll back together. The log is append-only and queried by tenant, newest first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding.orm import AuditRecord
from servicekit.auth import Principal
from servicekit.db import read_only, where_given
from servicekit.types import utcnow


@dataclass(frozen=True)
class Actor:
    """Who acted: the principal's subject and what kind of caller it was."""

    id: str
    kind: str  # operator, member, integration, system

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        if principal.token_type == "member":
            return cls(principal.subject, "member")
        if principal.has_any_role("integration"):
            return cls(principal.subject, "integration")
        return cls(principal.subject, "operator")


SYSTEM = Actor("system", "system")  # timers and event handlers


async def record(
    session: AsyncSession,
    tenant_id: str,
    actor: Actor,
    action: str,
    *,
    target_kind: str,
    target_id: str,
    community_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    row = AuditRecord(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        actor_id=actor.id,
        actor_kind=actor.kind,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        community_id=community_id,
        reason=reason,
        details=details or {},
        created_at=utcnow(),
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." (e.g. "sanction.")
    target_id: str | None = None
    community_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def search(
        self,
        tenant_id: str,
        where: AuditFilter,
        *,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> Sequence[AuditRecord]:
        """Newest first; ``before`` is the (created_at, id) the previous page ended on."""
        query = where_given(
            select(AuditRecord).where(AuditRecord.tenant_id == tenant_id),
            (AuditRecord.actor_id, where.actor_id),
            (AuditRecord.target_id, where.target_id),
            (AuditRecord.community_id, where.community_id),
        )
        if where.action is not None:
            query = query.where(
                AuditRecord.action.startswith(where.action, autoescape=True)
                if where.action.endswith(".")
                else AuditRecord.action == where.action
            )
        if where.since is not None:
            query = query.where(AuditRecord.created_at >= where.since)
        if where.until is not None:
            query = query.where(AuditRecord.created_at < where.until)
        if before is not None:
            at, last_id = before
            query = query.where(
                or_(
                    AuditRecord.created_at < at,
                    and_(AuditRecord.created_at == at, AuditRecord.id < last_id),
                )
            )
        query = query.order_by(AuditRecord.created_at.desc(), AuditRecord.id.desc()).limit(limit)
        async with read_only(self._sessions) as session:
            return (await session.scalars(query)).all()
