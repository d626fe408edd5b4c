"""Platform admin API: tenants."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.api.deps import IdentityDep, PlatformAdmin
from gateway.api.schemas import Invited, StatusChange, TenantCreate, TenantCreated, TenantOut
from gateway.domain.tenants import TenantStatus
from servicekit.pagination import Cursor, Limit, Page, keyset_after, page_of

router = APIRouter(prefix="/v1/platform/tenants", tags=["gateway: platform"])


@router.post("", status_code=201, response_model=TenantCreated)
async def create_tenant(
    body: TenantCreate, identity: IdentityDep, _admin: PlatformAdmin
) -> TenantCreated:
    """Create a tenant and invite its owner (the invitation goes out as an event)."""
    tenant, invitation = await identity.create_tenant(
        slug=body.slug,
        name=body.name,
        plan=body.plan,
        owner_email=body.owner_email,
        owner_name=body.owner_name,
    )
    return TenantCreated(
        tenant=TenantOut.model_validate(tenant),
        owner_invitation=Invited(
            operator_id=invitation.operator.id,
            email=invitation.operator.email,
            expires_at=invitation.expires_at,
        ),
    )


@router.get("", response_model=Page[TenantOut])
async def list_tenants(
    identity: IdentityDep,
    _admin: PlatformAdmin,
    status: TenantStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[TenantOut]:
    rows = await identity.tenants(status=status, after=keyset_after(cursor), limit=limit + 1)
    return page_of(rows, limit, TenantOut)


@router.get("/{tenant_id}", response_model=TenantOut)
async def get_tenant(tenant_id: str, identity: IdentityDep, _admin: PlatformAdmin) -> TenantOut:
    return TenantOut.model_validate(await identity.tenant(tenant_id))


@router.post("/{tenant_id}/suspend", response_model=TenantOut)
async def suspend(
    tenant_id: str,
    body: StatusChange,
    request: Request,
    identity: IdentityDep,
    _admin: PlatformAdmin,
) -> TenantOut:
    """Every request of a suspended tenant gets 403 until it is reactivated."""
    tenant = await identity.set_tenant_status(tenant_id, TenantStatus.SUSPENDED, body.reason)
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
    tenant = await identity.set_tenant_status(tenant_id, TenantStatus.ACTIVE, body.reason)
    request.app.state.tenants.forget(tenant_id)
    return TenantOut.model_validate(tenant)
