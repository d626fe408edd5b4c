"""Tenants, run by the platform's admins: created with an invitation for their owner,
renamed, moved to another plan or time zone, suspended and reactivated."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import events
from gateway.domain import roles
from gateway.domain.tenants import DEFAULT_TIMEZONE, TenantStatus, valid_slug, valid_timezone
from gateway.identity.invitations import Invitation, invite_in, send_invitation
from gateway.orm import Tenant
from gateway.repository import Repository
from gateway.settings import Settings
from servicekit.db import transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class Tenants:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    async def create(
        self,
        *,
        slug: str,
        name: str,
        plan: str,
        owner_email: str,
        owner_name: str,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> tuple[Tenant, Invitation]:
        if not valid_slug(slug):
            raise Problem(
                422,
                "invalid-slug",
                "Invalid slug",
                "3 to 40 lowercase letters, digits and inner hyphens",
            )
        self._check_plan(plan)
        _check_timezone(timezone)
        now = utcnow()
        tenant = Tenant(
            id=str(uuid.uuid4()),
            slug=slug,
            name=name,
            plan=plan,
            status=TenantStatus.ACTIVE,
            created_at=now,
            status_changed_at=now,
            timezone=timezone,
        )
        try:
            async with transaction(self.sessions) as session:
                repo = Repository(session)
                repo.add(tenant)
                await repo.flush()
                invitation = await invite_in(
                    session, self.settings, tenant.id, owner_email, owner_name, [roles.Role.OWNER]
                )
                await add_event(
                    session, events.tenant_created(tenant.id, slug, name, plan, timezone)
                )
        except IntegrityError as error:
            raise Problem(
                409, "slug-taken", "Slug taken", f"a tenant is already {slug!r}"
            ) from error
        return tenant, invitation

    async def reinvite_owner(self, tenant_id: str) -> Invitation:
        """A fresh invitation for the tenant's owner, who has not accepted yet; every
        earlier invitation token of that owner stops working."""
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            if await repo.tenant(tenant_id) is None:
                raise not_found("tenant")
            owners = await repo.invited_owners(tenant_id)
            if not owners:
                raise Problem(
                    409,
                    "invitation-accepted",
                    "Invitation already accepted",
                    "the tenant's owner has accepted the invitation: "
                    "they sign in, or reset their password",
                )
            owner = owners[0]
            await repo.expire_invitations(owner.id, utcnow())
            return await send_invitation(session, self.settings, owner)

    def _check_plan(self, plan: str) -> None:
        if plan not in self.settings.rate_limit_plans:
            raise Problem(
                422,
                "unknown-plan",
                "Unknown plan",
                f"plans: {', '.join(sorted(self.settings.rate_limit_plans))}",
            )

    async def update(self, tenant_id: str, changes: dict[str, str]) -> Tenant:
        """Change a tenant's name, plan or time zone; ``tenant.updated`` carries every
        setting after the change (services keep the time zone for the tenant's days)."""
        if "plan" in changes:
            self._check_plan(changes["plan"])
        if "timezone" in changes:
            _check_timezone(changes["timezone"])
        async with transaction(self.sessions) as session:
            tenant = await Repository(session).tenant(tenant_id)
            if tenant is None:
                raise not_found("tenant")
            changed = sorted(k for k, v in changes.items() if getattr(tenant, k) != v)
            for name in changed:
                setattr(tenant, name, changes[name])
            if changed:
                at = utcnow().isoformat()
                await add_event(
                    session,
                    events.tenant_updated(
                        tenant_id, changed, tenant.name, tenant.plan, tenant.timezone, at
                    ),
                )
        return tenant

    async def set_status(self, tenant_id: str, status: TenantStatus, reason: str) -> Tenant:
        async with transaction(self.sessions) as session:
            tenant = await Repository(session).tenant(tenant_id)
            if tenant is None:
                raise not_found("tenant")
            if tenant.status != status:
                tenant.status = status
                tenant.status_changed_at = utcnow()
                suspended = status == TenantStatus.SUSPENDED
                await add_event(session, events.tenant_status_changed(tenant_id, suspended, reason))
        return tenant

    async def page(
        self, *, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Tenant]:
        async with transaction(self.sessions) as session:
            return list(
                await Repository(session).tenants_page(status=status, after=after, limit=limit)
            )

    async def get(self, tenant_id: str) -> Tenant:
        async with transaction(self.sessions) as session:
            tenant = await Repository(session).tenant(tenant_id)
        if tenant is None:
            raise not_found("tenant")
        return tenant

    # -------------------------------------------------------------- operators


def _check_timezone(timezone: str) -> None:
    if not valid_timezone(timezone):
        raise Problem(
            422, "invalid-timezone", "Invalid time zone", "an IANA time zone such as Asia/Shanghai"
        )
