"""Member tokens, minted by the tenant's backend for its app's users."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import ApiKeyPrincipal, IdentityDep
from gateway.api.schemas import MemberTokenOut, MemberTokenRequest
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/member-tokens", tags=["gateway: member tokens"])


@router.post("", status_code=201, response_model=MemberTokenOut)
async def mint(
    body: MemberTokenRequest, key: ApiKeyPrincipal, identity: IdentityDep
) -> MemberTokenOut:
    """A short-lived token for the member with this external id (needs `members:write`).
    The member is created or updated in the member directory from the profile."""
    issued = await identity.member_tokens.mint(
        key, external_id=body.external_id, profile=body.profile
    )
    return MemberTokenOut(
        access_token=issued.token,
        expires_in=max(0, int((issued.expires_at - utcnow()).total_seconds())),
        expires_at=issued.expires_at,
    )
