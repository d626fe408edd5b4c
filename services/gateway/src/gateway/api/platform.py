"""Platform admin API: tenants."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.deps import IdentityDep, PlatformAdmin
from gateway.api.schemas import (
    OwnerInvited,
    StatusChange,
    TenantCreate,
    TenantCreated,
    TenantOut,
    TenantUpdate,
)
from gateway.domain.mail import invitation_url
from gateway.domain.tenants import TenantStatus
from gateway.identity.invitations import Invitation
from gateway.settings import Settings
from servicekit.pagination import Cursor, Limit, Page, keyset_after, page_of
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/platform/tenants", tags=["gateway: platform"])


@router.post(
    "",
    status_code=201,
    response_model=TenantCreated,
    response_model_exclude_none=True,
    responses=problem_responses({409: "The slug is taken"}),
)
async def create_tenant(
    body: TenantCreate, request: Request, identity: IdentityDep, _admin: PlatformAdmin
) -> TenantCreated:
    """Create a tenant and invite its owner. The invitation is mailed (SMTP; in development
    a file in the mail directory); without SMTP the answer also carries `invitation_url`."""
    tenant, invitation = await identity.tenants.create(
        slug=body.slug,
        name=body.name,
        plan=body.plan,
        owner_email=body.owner_email,
        owner_name=body.owner_name,
        timezone=body.timezone,
    )
    return TenantCreated(
        tenant=TenantOut.model_validate(tenant),
        owner_invitation=_owner_invited(invitation, request.app.state.settings),
    )


@router.post(
    "/{tenant_id}/owner-invitation",
    status_code=201,
    response_model=OwnerInvited,
    response_model_exclude_none=True,
    responses=problem_responses(
        {404: "No such tenant", 409: "The owner has already accepted the invitation"}
    ),
)
async def reinvite_owner(
    tenant_id: str, request: Request, identity: IdentityDep, _admin: PlatformAdmin
) -> OwnerInvited:
    """Send the tenant's owner a fresh invitation while they have not accepted one; every
    earlier invitation link of the owner stops working. Mailed like the first one; without
    SMTP the answer carries `invitation_url`."""
    invitation = await identity.tenants.reinvite_owner(tenant_id)
    return _owner_invited(invitation, request.app.state.settings)


def _owner_invited(invitation: Invitation, settings: Settings) -> OwnerInvited:
    return OwnerInvited(
        operator_id=invitation.operator.id,
        email=invitation.operator.email,
        expires_at=invitation.expires_at,
        invitation_url=None
        if settings.mail_configured
        else invitation_url(settings.links_base, invitation.token),
    )


@router.get("", response_model=Page[TenantOut])
async def list_tenants(
    identity: IdentityDep,
    _admin: PlatformAdmin,
    status: TenantStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[TenantOut]:
    rows = await identity.tenants.page(status=status, after=keyset_after(cursor), limit=limit + 1)
    return page_of(rows, limit, TenantOut)


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: str, identity: IdentityDep, _admin: PlatformAdmin) -> TenantOut:
    return TenantOut.model_validate(await identity.tenants.get(tenant_id))


@router.patch(
    "/{tenant_id}",
    response_model=TenantOut,
    responses={404: {"description": "No such tenant"}},
)
async def update_tenant(
    tenant_id: str,
    body: TenantUpdate,
    request: Request,
    identity: IdentityDep,
    _admin: PlatformAdmin,
) -> TenantOut:
    """Change the name, plan or time zone (the tenant's days: tenant-wide leaderboards and
    reports, and communities whose own zone is unknown). Announced as `tenant.updated`."""
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    tenant = await identity.tenants.update(tenant_id, changes)
    request.app.state.tenants.forget(tenant_id)  # the plan sets rate limits
    return TenantOut.model_validate(tenant)


@router.post("/{tenant_id}/suspend", response_model=TenantOut)
async def suspend(
    tenant_id: str,
    body: StatusChange,
    request: Request,
    identity: IdentityDep,
    _admin: PlatformAdmin,
) -> TenantOut:
    """Every request of a suspended tenant gets 403 until it is reactivated."""
    tenant = await identity.tenants.set_status(tenant_id, TenantStatus.SUSPENDED, body.reason)
    request.app.state.tenants.forget(tenant_id)
    return TenantOut.model_validate(tenant)


@router.post("/{tenant_id}/reactivate", response_model=TenantOut)
async def reactivate(
    tenant_id: str,
    body: StatusChange,
    request: Request,
    identity: IdentityDep,
    _admin: PlatformAdmin,
) -> TenantOut:
    tenant = await identity.tenants.set_status(tenant_id, TenantStatus.ACTIVE, body.reason)
    request.app.state.tenants.forget(tenant_id)
    return TenantOut.model_validate(tenant)
