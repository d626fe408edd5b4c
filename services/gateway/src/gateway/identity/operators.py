"""A tenant's operators: invited by its owners and admins, who grant roles and disable
them; an invitation or a password reset sets the password (every session ends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import events
from gateway.domain import roles
from gateway.identity.invitations import (
    INVITATION,
    PASSWORD_RESET,
    Invitation,
    check_grant,
    invalid_token,
    invite_in,
    one_time_token,
    weak_password,
)
from gateway.orm import Operator
from gateway.repository import Repository
from gateway.security import MIN_PASSWORD_LENGTH, hash_password, sha256_hex
from gateway.settings import Settings
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class Operators:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings

    async def invite(
        self, manager: Principal, *, email: str, display_name: str, granted: list[str]
    ) -> Invitation:
        check_grant(manager, granted)
        try:
            async with transaction(self.sessions) as session:
                return await invite_in(
                    session, self.settings, manager.tenant_id, email, display_name, granted
                )
        except IntegrityError as error:
            raise Problem(
                409,
                "operator-exists",
                "Operator exists",
                "this email already belongs to an operator of the tenant",
            ) from error

    async def accept_invitation(self, token: str, password: str) -> Operator:
        return await self._redeem(token, INVITATION, password)

    async def confirm_password_reset(self, token: str, password: str) -> Operator:
        return await self._redeem(token, PASSWORD_RESET, password)

    async def _redeem(self, token: str, purpose: str, password: str) -> Operator:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise weak_password()
        password_hash = await hash_password(password)
        now = utcnow()
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            row = await repo.one_time_token(sha256_hex(token), purpose)
            if row is None or row.used_at is not None or now >= row.expires_at:
                raise invalid_token(purpose.replace("_", " ") + " token")
            operator = await repo.operator(row.tenant_id, row.operator_id)
            if operator is None or operator.status == "disabled":
                raise invalid_token(purpose.replace("_", " ") + " token")
            row.used_at = now
            operator.password_hash = password_hash
            operator.status = "active"
            operator.failed_logins = 0
            operator.locked_until = None
            await repo.revoke_operator_sessions(operator.id, now)  # a reset ends every session
        return operator

    async def request_password_reset(self, tenant_slug: str, email: str) -> None:
        """Always succeeds from the caller's view: it never tells which emails exist."""
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            tenant = await repo.tenant_by_slug(tenant_slug)
            operator = tenant and await repo.operator_by_email(tenant.id, email.lower())
            if not operator or operator.status != "active":
                return
            ttl = timedelta(minutes=self.settings.password_reset_ttl_minutes)
            token, expires_at = await one_time_token(session, operator, PASSWORD_RESET, ttl)
            await add_event(
                session,
                events.password_reset_requested(
                    operator.tenant_id, operator.id, operator.email, token, expires_at.isoformat()
                ),
            )

    async def page(
        self, tenant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Operator]:
        async with transaction(self.sessions) as session:
            return list(
                await Repository(session).operators_page(tenant_id, after=after, limit=limit)
            )

    async def get(self, tenant_id: str, operator_id: str) -> Operator:
        async with transaction(self.sessions) as session:
            operator = await Repository(session).operator(tenant_id, operator_id)
        if operator is None:
            raise not_found("operator")
        return operator

    async def update(
        self,
        manager: Principal,
        operator_id: str,
        *,
        granted: list[str] | None,
        disabled: bool | None,
    ) -> Operator:
        if granted is not None:
            check_grant(manager, granted)
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            operator = await repo.operator(manager.tenant_id, operator_id)
            if operator is None:
                raise not_found("operator")
            if roles.Role.OWNER in operator.roles and roles.Role.OWNER not in manager.roles:
                raise Problem(403, "forbidden", "Forbidden", "only an owner changes an owner")
            if operator.id == manager.subject and (disabled or granted is not None):
                raise Problem(
                    409,
                    "self-change",
                    "Not on yourself",
                    "ask another owner or admin to change your own roles or status",
                )
            if granted is not None:
                operator.roles = sorted(set(granted))
            if disabled is not None and disabled != (operator.status == "disabled"):
                operator.status = "disabled" if disabled else "active"
                if disabled:
                    await repo.revoke_operator_sessions(operator.id, utcnow())
        return operator
