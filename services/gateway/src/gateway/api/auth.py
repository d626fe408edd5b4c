"""Operator sign-in: login, refresh rotation, logout, password reset, invitations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from gateway.api.deps import IdentityDep, anonymous_limit
from gateway.api.schemas import (
    Login,
    RefreshIn,
    ResetRequest,
    ResetRequested,
    SetPassword,
    TokensOut,
)
from gateway.identity.logins import TokenPair
from servicekit.problems import problem_responses
from servicekit.types import utcnow

router = APIRouter(
    prefix="/v1/auth", tags=["gateway: auth"], dependencies=[Depends(anonymous_limit)]
)


def _tokens(pair: TokenPair) -> TokensOut:
    return TokensOut(
        access_token=pair.access.token,
        expires_in=max(0, int((pair.access.expires_at - utcnow()).total_seconds())),
        refresh_token=pair.refresh_token,
        refresh_expires_at=pair.refresh_expires_at,
    )


@router.post(
    "/login",
    response_model=TokensOut,
    responses=problem_responses(
        {401: "Wrong tenant, email or password", 403: "The tenant is suspended"}
    ),
)
async def login(body: Login, identity: IdentityDep) -> TokensOut:
    """Email and password of an operator of the tenant (its slug). Repeated failures slow
    down further attempts (429 with Retry-After) and then lock the account for a while."""
    return _tokens(await identity.logins.login(body.tenant, body.email, body.password))


@router.post(
    "/refresh",
    response_model=TokensOut,
    responses=problem_responses(
        {401: "The refresh token is invalid, used or expired", 403: "The tenant is suspended"}
    ),
)
async def refresh(body: RefreshIn, identity: IdentityDep) -> TokensOut:
    """Exchange a refresh token for new tokens. Each refresh token works once: presenting a
    used one again revokes every token of its sign-in (theft detection)."""
    return _tokens(await identity.logins.refresh(body.refresh_token))


@router.post("/logout", status_code=204)
async def logout(body: RefreshIn, identity: IdentityDep) -> Response:
    """Revoke the sign-in this refresh token belongs to."""
    await identity.logins.logout(body.refresh_token)
    return Response(status_code=204)


@router.post("/password-reset", status_code=202, response_model=ResetRequested)
async def request_reset(body: ResetRequest, identity: IdentityDep) -> ResetRequested:
    """Always 202, whether the email exists or not; the token goes to the tenant's mailer."""
    await identity.operators.request_password_reset(body.tenant, body.email)
    return ResetRequested(detail="if this email belongs to an operator, a reset link is mailed")


@router.post(
    "/password-reset/confirm",
    status_code=204,
    responses=problem_responses({401: "The token is invalid, used or expired"}),
)
async def confirm_reset(body: SetPassword, identity: IdentityDep) -> Response:
    """Set a new password with the one-time token; every existing sign-in is revoked."""
    await identity.operators.confirm_password_reset(body.token, body.password)
    return Response(status_code=204)


@router.post(
    "/invitations/accept",
    status_code=204,
    responses=problem_responses({401: "The token is invalid, used or expired"}),
)
async def accept_invitation(body: SetPassword, identity: IdentityDep) -> Response:
    """Choose a password with the invitation's one-time token; the operator can then log in."""
    await identity.operators.accept_invitation(body.token, body.password)
    return Response(status_code=204)
