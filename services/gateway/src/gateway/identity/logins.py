"""Operators' sign-in: password logins (throttled after failures), refresh tokens rotated
in families (a reused one revokes its family), logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.domain import lockout, refresh
from gateway.domain.tenants import TenantStatus
from gateway.identity.invitations import invalid_token
from gateway.orm import Operator, RefreshToken
from gateway.repository import Repository
from gateway.security import (
    IssuedToken,
    TokenIssuer,
    new_secret,
    same_secret,
    sha256_hex,
    verify_password,
)
from gateway.settings import Settings
from gateway.tenancy import tenant_suspended
from servicekit.db import transaction
from servicekit.problems import Problem
from servicekit.types import utcnow


def invalid_credentials() -> Problem:
    return Problem(
        401, "invalid-credentials", "Invalid credentials", "the email, tenant or password is wrong"
    )


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True)
class Logins:
    sessions: async_sessionmaker[AsyncSession]
    issuer: TokenIssuer
    settings: Settings

    @property
    def policy(self) -> lockout.Policy:
        return lockout.Policy(
            max_failures=self.settings.login_max_failures,
            lockout=timedelta(minutes=self.settings.lockout_minutes),
        )

    async def login(self, tenant_slug: str, email: str, password: str) -> TokenPair:
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            tenant = await repo.tenant_by_slug(tenant_slug)
            operator = tenant and await repo.operator_by_email(tenant.id, email.lower())
            if not tenant or not operator or operator.status != "active":
                await verify_password(None, password)  # same cost as a real check
                raise invalid_credentials()
            state = _login_state(operator)
            wait = lockout.wait_before_attempt(state, utcnow())
            if wait > timedelta(0):
                raise _throttled(wait)
        ok = await verify_password(operator.password_hash, password)
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            current = await repo.operator(operator.tenant_id, operator.id)
            assert current is not None
            state = (
                lockout.after_success()
                if ok
                else lockout.after_failure(_login_state(current), utcnow(), self.policy)
            )
            current.failed_logins = state.failures
            current.last_failed_login_at = state.last_failure_at
            current.locked_until = state.locked_until
            if ok:
                if tenant.status != TenantStatus.ACTIVE:
                    raise tenant_suspended()
                return await self._start_family(session, current)
        raise invalid_credentials()

    async def _start_family(self, session: AsyncSession, operator: Operator) -> TokenPair:
        return await self._issue_refresh(session, operator, family_id=str(uuid.uuid4()))

    async def _issue_refresh(
        self, session: AsyncSession, operator: Operator, family_id: str
    ) -> TokenPair:
        now = utcnow()
        secret = new_secret()
        row = RefreshToken(
            id=str(uuid.uuid4()),
            family_id=family_id,
            operator_id=operator.id,
            tenant_id=operator.tenant_id,
            secret_hash=sha256_hex(secret),
            issued_at=now,
            expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
            used_at=None,
            revoked_at=None,
        )
        Repository(session).add(row)
        access = self.issuer.issue(
            subject=operator.id,
            tenant_id=operator.tenant_id,
            roles=list(operator.roles),
            typ="access",
            ttl=timedelta(seconds=self.settings.access_token_ttl_s),
        )
        return TokenPair(access, f"{row.id}.{secret}", row.expires_at)

    async def refresh(self, presented: str) -> TokenPair:
        token_id, _, secret = presented.partition(".")
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            row = await repo.refresh_token(token_id) if token_id else None
            if row is None or not same_secret(sha256_hex(secret), row.secret_hash):
                raise invalid_token("refresh token")
            now = utcnow()
            verdict = refresh.judge(
                refresh.RefreshToken(row.expires_at, row.used_at, row.revoked_at), now
            )
            if verdict is refresh.Verdict.REUSED:
                await repo.revoke_family(row.family_id, now)
            if verdict is not refresh.Verdict.ROTATE:
                pair = None
            else:
                operator = await repo.operator(row.tenant_id, row.operator_id)
                tenant = await repo.tenant(row.tenant_id)
                if operator is None or operator.status != "active" or tenant is None:
                    raise invalid_token("refresh token")
                if tenant.status != TenantStatus.ACTIVE:
                    raise tenant_suspended()
                row.used_at = now
                pair = await self._issue_refresh(session, operator, row.family_id)
        if pair is None:  # the family revocation above is committed before refusing
            raise invalid_token("refresh token")
        return pair

    async def logout(self, presented: str) -> None:
        token_id, _, secret = presented.partition(".")
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            row = await repo.refresh_token(token_id) if token_id else None
            if row is not None and same_secret(sha256_hex(secret), row.secret_hash):
                await repo.revoke_family(row.family_id, utcnow())


def _login_state(operator: Operator) -> lockout.LoginState:
    return lockout.LoginState(
        operator.failed_logins, operator.last_failed_login_at, operator.locked_until
    )


def _throttled(wait: timedelta) -> Problem:
    seconds = max(1, int(wait.total_seconds() + 0.999))
    return Problem(
        429,
        "login-throttled",
        "Too many failed logins",
        f"try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
