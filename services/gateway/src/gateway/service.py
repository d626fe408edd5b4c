"""Use cases of the gateway: one transaction each; events through the outbox."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import events
from gateway.domain import apikeys, identified, lockout, refresh, roles
from gateway.domain.tenants import DEFAULT_TIMEZONE, TenantStatus, valid_slug, valid_timezone
from gateway.orm import ApiKey, OneTimeToken, Operator, RefreshToken, Tenant
from gateway.repository import Repository
from gateway.security import (
    MIN_PASSWORD_LENGTH,
    IssuedToken,
    TokenIssuer,
    hash_password,
    new_secret,
    same_secret,
    sha256_hex,
    verify_password,
)
from gateway.settings import Settings
from gateway.tenancy import tenant_suspended
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def invalid_credentials() -> Problem:
    return Problem(
        401, "invalid-credentials", "Invalid credentials", "the email, tenant or password is wrong"
    )


def invalid_token(what: str) -> Problem:
    return Problem(401, "invalid-token", "Invalid token", f"the {what} is invalid or expired")


def weak_password() -> Problem:
    return Problem(
        422, "weak-password", "Password too short", f"use at least {MIN_PASSWORD_LENGTH} characters"
    )


@dataclass(frozen=True)
class TokenPair:
    access: IssuedToken
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True)
class Invitation:
    operator: Operator
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    raw: str


@dataclass(frozen=True)
class KeyPrincipal:
    tenant_id: str
    key_id: str
    scopes: frozenset[str]


class Identity:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], issuer: TokenIssuer, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.issuer = issuer
        self.settings = settings
        self.policy = lockout.Policy(
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.lockout_minutes),
        )
        self.identifications = identified.RecentIdentifications(settings.member_identified_window_s)

    # ---------------------------------------------------------------- tenants

    async def create_tenant(
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
                invitation = await self._invite(
                    session, tenant.id, owner_email, owner_name, [roles.Role.OWNER]
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
            return await self._send_invitation(session, owner)

    def _check_plan(self, plan: str) -> None:
        if plan not in self.settings.rate_limit_plans:
            raise Problem(
                422,
                "unknown-plan",
                "Unknown plan",
                f"plans: {', '.join(sorted(self.settings.rate_limit_plans))}",
            )

    async def update_tenant(self, tenant_id: str, changes: dict[str, str]) -> Tenant:
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

    async def set_tenant_status(self, tenant_id: str, status: TenantStatus, reason: str) -> Tenant:
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

    async def tenants(
        self, *, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[Tenant]:
        async with transaction(self.sessions) as session:
            return list(
                await Repository(session).tenants_page(status=status, after=after, limit=limit)
            )

    async def tenant(self, tenant_id: str) -> Tenant:
        async with transaction(self.sessions) as session:
            tenant = await Repository(session).tenant(tenant_id)
        if tenant is None:
            raise not_found("tenant")
        return tenant

    # -------------------------------------------------------------- operators

    async def invite(
        self, manager: Principal, *, email: str, display_name: str, granted: list[str]
    ) -> Invitation:
        _check_grant(manager, granted)
        try:
            async with transaction(self.sessions) as session:
                return await self._invite(session, manager.tenant_id, email, display_name, granted)
        except IntegrityError as error:
            raise Problem(
                409,
                "operator-exists",
                "Operator exists",
                "this email already belongs to an operator of the tenant",
            ) from error

    async def _invite(
        self, session: AsyncSession, tenant_id: str, email: str, name: str, granted: list[str]
    ) -> Invitation:
        operator = Operator(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            email=email.lower(),
            display_name=name,
            roles=sorted(set(granted)),
            status="invited",
            password_hash=None,
            failed_logins=0,
            created_at=utcnow(),
        )
        repo = Repository(session)
        repo.add(operator)
        await repo.flush()
        return await self._send_invitation(session, operator)

    async def _send_invitation(self, session: AsyncSession, operator: Operator) -> Invitation:
        """A new invitation token for the operator, mailed through the outbox."""
        ttl = timedelta(hours=self.settings.invitation_ttl_hours)
        token, expires_at = await self._one_time_token(session, operator, INVITATION, ttl)
        await add_event(
            session,
            events.operator_invited(
                operator.tenant_id,
                operator.id,
                operator.email,
                operator.roles,
                token,
                expires_at.isoformat(),
            ),
        )
        return Invitation(operator, token, expires_at)

    async def _one_time_token(
        self, session: AsyncSession, operator: Operator, purpose: str, ttl: timedelta
    ) -> tuple[str, datetime]:
        token = new_secret()
        expires_at = utcnow() + ttl
        Repository(session).add(
            OneTimeToken(
                token_hash=sha256_hex(token),
                purpose=purpose,
                operator_id=operator.id,
                tenant_id=operator.tenant_id,
                expires_at=expires_at,
                used_at=None,
            )
        )
        return token, expires_at

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
            token, expires_at = await self._one_time_token(session, operator, PASSWORD_RESET, ttl)
            await add_event(
                session,
                events.password_reset_requested(
                    operator.tenant_id, operator.id, operator.email, token, expires_at.isoformat()
                ),
            )

    async def operators(
        self, tenant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Operator]:
        async with transaction(self.sessions) as session:
            return list(
                await Repository(session).operators_page(tenant_id, after=after, limit=limit)
            )

    async def operator(self, tenant_id: str, operator_id: str) -> Operator:
        async with transaction(self.sessions) as session:
            operator = await Repository(session).operator(tenant_id, operator_id)
        if operator is None:
            raise not_found("operator")
        return operator

    async def update_operator(
        self,
        manager: Principal,
        operator_id: str,
        *,
        granted: list[str] | None,
        disabled: bool | None,
    ) -> Operator:
        if granted is not None:
            _check_grant(manager, granted)
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

    # ------------------------------------------------------------------ login

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

    # --------------------------------------------------------------- API keys

    async def create_api_key(
        self, manager: Principal, *, name: str, scopes: list[str]
    ) -> CreatedKey:
        unknown = apikeys.unknown_scopes(frozenset(scopes))
        if unknown or not scopes:
            raise Problem(
                422,
                "unknown-scope",
                "Unknown scope",
                f"scopes: {', '.join(sorted(apikeys.ALL_SCOPES))}",
            )
        prefix = "".join(secrets.choice(B32) for _ in range(8))
        raw = apikeys.format_key(prefix, new_secret(32))
        key = ApiKey(
            id=str(uuid.uuid4()),
            tenant_id=manager.tenant_id,
            name=name,
            prefix=prefix,
            key_hash=sha256_hex(raw),
            scopes=sorted(set(scopes)),
            created_by=manager.subject,
            created_at=utcnow(),
            last_used_at=None,
            revoked_at=None,
        )
        async with transaction(self.sessions) as session:
            Repository(session).add(key)
            await add_event(
                session,
                events.api_key_created(
                    key.tenant_id, key.id, prefix, name, key.scopes, manager.subject
                ),
            )
        return CreatedKey(key, raw)

    async def api_keys(
        self, tenant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[ApiKey]:
        async with transaction(self.sessions) as session:
            return list(
                await Repository(session).api_keys_page(tenant_id, after=after, limit=limit)
            )

    async def revoke_api_key(self, manager: Principal, key_id: str) -> ApiKey:
        async with transaction(self.sessions) as session:
            key = await Repository(session).api_key(manager.tenant_id, key_id)
            if key is None:
                raise not_found("API key")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                await add_event(
                    session,
                    events.api_key_revoked(key.tenant_id, key.id, key.prefix, manager.subject),
                )
        return key

    async def authenticate_api_key(self, raw: str) -> KeyPrincipal:
        """No cache: a revoked key must stop working at once, on every instance."""
        parsed = apikeys.parse_key(raw)
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            key = await repo.api_key_by_prefix(parsed.prefix) if parsed else None
            if (
                key is None
                or key.revoked_at is not None
                or not same_secret(sha256_hex(raw.strip()), key.key_hash)
            ):
                raise Problem(
                    401, "invalid-api-key", "Invalid API key", "the API key is unknown or revoked"
                )
            now = utcnow()
            if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
                await repo.touch_api_key(key.id, now)  # at most one write a minute per key
        return KeyPrincipal(key.tenant_id, key.id, frozenset(key.scopes))

    # ----------------------------------------------------------- member tokens

    async def mint_member_token(
        self, key: KeyPrincipal, *, external_id: str, profile: dict[str, Any]
    ) -> IssuedToken:
        if apikeys.Scope.MEMBERS_WRITE not in key.scopes:
            raise Problem(403, "missing-scope", "Missing scope", "the key needs members:write")
        print_ = identified.fingerprint(key.tenant_id, external_id, profile)
        if self.identifications.is_news(print_, time.monotonic()):
            async with transaction(self.sessions) as session:
                event = events.member_identified(key.tenant_id, external_id, profile)
                await add_event(session, event)
            self.identifications.published(print_, time.monotonic())
        return self.issuer.issue(
            subject=external_id,
            tenant_id=key.tenant_id,
            roles=[roles.MEMBER_ROLE],
            typ="member",
            ttl=timedelta(seconds=self.settings.member_token_ttl_s),
        )


def _check_grant(manager: Principal, granted: list[str]) -> None:
    unknown = roles.unknown_roles(frozenset(granted))
    if unknown or not granted:
        raise Problem(
            422, "unknown-role", "Unknown role", f"roles: {', '.join(sorted(roles.OPERATOR_ROLES))}"
        )
    if not roles.may_grant(manager.roles, frozenset(granted)):
        raise Problem(403, "forbidden", "Forbidden", "your role cannot grant these roles")


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


def _check_timezone(timezone: str) -> None:
    if not valid_timezone(timezone):
        raise Problem(
            422, "invalid-timezone", "Invalid time zone", "an IANA time zone such as Asia/Shanghai"
        )
