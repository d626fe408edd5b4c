"""API keys for the tenant's servers (CRM, payments): created, listed, revoked."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import IdentityDep, Manager
from gateway.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from servicekit.pagination import Cursor, Limit, Page, keyset_after, page_of

router = APIRouter(prefix="/v1/api-keys", tags=["gateway: api keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_key(body: ApiKeyCreate, manager: Manager, identity: IdentityDep) -> ApiKeyCreated:
    """The key is in this response only: it is stored hashed and cannot be shown again."""
    created = await identity.api_keys.create(
        manager, name=body.name, scopes=[str(s) for s in body.scopes]
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(created.key).model_dump(), key=created.raw)


@router.get("", response_model=Page[ApiKeyOut])
async def list_keys(
    manager: Manager, identity: IdentityDep, cursor: Cursor = None, limit: Limit = 50
) -> Page[ApiKeyOut]:
    rows = await identity.api_keys.page(
        manager.tenant_id, after=keyset_after(cursor), limit=limit + 1
    )
    return page_of(rows, limit, ApiKeyOut)


@router.delete("/{key_id}", response_model=ApiKeyOut)
async def revoke_key(key_id: str, manager: Manager, identity: IdentityDep) -> ApiKeyOut:
    """The key stops working at once, on every gateway instance."""
    return ApiKeyOut.model_validate(await identity.api_keys.revoke(manager, key_id))
