"""Invitations and one-time tokens: an operator is invited (by a manager, or as a new
tenant's owner) with a token mailed through the outbox; the same tokens reset passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import events
from gateway.domain import roles
from gateway.orm import OneTimeToken, Operator
from gateway.repository import Repository
from gateway.security import MIN_PASSWORD_LENGTH, new_secret, sha256_hex
from gateway.settings import Settings
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem
from servicekit.types import utcnow

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"


def invalid_token(what: str) -> Problem:
    return Problem(401, "invalid-token", "Invalid token", f"the {what} is invalid or expired")


def weak_password() -> Problem:
    return Problem(
        422, "weak-password", "Password too short", f"use at least {MIN_PASSWORD_LENGTH} characters"
    )


@dataclass(frozen=True)
class Invitation:
    operator: Operator
    token: str
    expires_at: datetime


async def invite_in(
    session: AsyncSession,
    settings: Settings,
    tenant_id: str,
    email: str,
    name: str,
    granted: list[str],
) -> Invitation:
    """A new operator of the tenant, invited (the email is unique per tenant)."""
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
    return await send_invitation(session, settings, operator)


async def send_invitation(
    session: AsyncSession, settings: Settings, operator: Operator
) -> Invitation:
    """A new invitation token for the operator, mailed through the outbox."""
    ttl = timedelta(hours=settings.invitation_ttl_hours)
    token, expires_at = await one_time_token(session, operator, INVITATION, ttl)
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


async def one_time_token(
    session: AsyncSession, operator: Operator, purpose: str, ttl: timedelta
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


def check_grant(manager: Principal, granted: list[str]) -> None:
    unknown = roles.unknown_roles(frozenset(granted))
    if unknown or not granted:
        raise Problem(
            422, "unknown-role", "Unknown role", f"roles: {', '.join(sorted(roles.OPERATOR_ROLES))}"
        )
    if not roles.may_grant(manager.roles, frozenset(granted)):
        raise Problem(403, "forbidden", "Forbidden", "your role cannot grant these roles")
