"""Queries of the gateway. Every tenant-owned lookup takes the tenant id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.orm import ApiKey, OneTimeToken, Operator, RefreshToken, Tenant


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    # tenants
    async def tenant(self, tenant_id: str) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def tenant_by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def tenants_page(
        self, *, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[Tenant]:
        query = select(Tenant)
        if status:
            query = query.where(Tenant.status == status)
        if after:
            query = query.where(_after(Tenant.created_at, Tenant.id, after))
        return (
            await self.session.scalars(query.order_by(Tenant.created_at, Tenant.id).limit(limit))
        ).all()

    # operators
    async def operator(self, tenant_id: str, operator_id: str) -> Operator | None:
        return await self.session.scalar(
            select(Operator).where(Operator.tenant_id == tenant_id, Operator.id == operator_id)
        )

    async def operator_by_email(self, tenant_id: str, email: str) -> Operator | None:
        return await self.session.scalar(
            select(Operator).where(Operator.tenant_id == tenant_id, Operator.email == email)
        )

    async def invited_owners(self, tenant_id: str) -> list[Operator]:
        """The tenant's owners who have not accepted their invitation yet, oldest first,
        locked (their invitation is reissued under this lock). Roles are a JSON list:
        filtered here, a tenant's pending invitations being few."""
        rows = await self.session.scalars(
            select(Operator)
            .where(Operator.tenant_id == tenant_id, Operator.status == "invited")
            .order_by(Operator.created_at, Operator.id)
            .with_for_update()
        )
        return [row for row in rows if "owner" in row.roles]

    async def operators_page(
        self, tenant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[Operator]:
        query = select(Operator).where(Operator.tenant_id == tenant_id)
        if after:
            query = query.where(_after(Operator.created_at, Operator.id, after))
        ordered = query.order_by(Operator.created_at, Operator.id).limit(limit)
        return (await self.session.scalars(ordered)).all()

    # one-time tokens
    async def one_time_token(self, token_hash: str, purpose: str) -> OneTimeToken | None:
        return await self.session.scalar(
            select(OneTimeToken)
            .where(OneTimeToken.token_hash == token_hash, OneTimeToken.purpose == purpose)
            .with_for_update()
        )

    async def one_time_token_usable(self, token_hash: str, now: datetime) -> bool:
        """Still redeemable: not used, not expired (nor superseded, which expires it)."""
        found = await self.session.scalar(
            select(OneTimeToken.token_hash).where(
                OneTimeToken.token_hash == token_hash,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
        )
        return found is not None

    async def expire_invitations(self, operator_id: str, now: datetime) -> None:
        """Ends every open invitation of an operator (a new one supersedes them)."""
        await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.operator_id == operator_id,
                OneTimeToken.purpose == "invitation",
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(expires_at=now)
        )

    # refresh tokens
    async def refresh_token(self, token_id: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
        )

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_operator_sessions(self, operator_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.operator_id == operator_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # API keys
    async def api_key_by_prefix(self, prefix: str) -> ApiKey | None:
        return await self.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))

    async def api_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        return await self.session.scalar(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
        )

    async def api_keys_page(
        self, tenant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[ApiKey]:
        query = select(ApiKey).where(ApiKey.tenant_id == tenant_id)
        if after:
            query = query.where(_after(ApiKey.created_at, ApiKey.id, after))
        ordered = query.order_by(ApiKey.created_at, ApiKey.id).limit(limit)
        return (await self.session.scalars(ordered)).all()

    async def touch_api_key(self, key_id: str, now: datetime) -> None:
        await self.session.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now)
        )


def _after(
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    after: tuple[datetime, str],
) -> ColumnElement[bool]:
    """Keyset condition: rows strictly after (created_at, id) in that order."""
    at, last_id = after
    return or_(created_at > at, and_(created_at == at, row_id > last_id))
