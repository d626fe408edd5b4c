"""The points mall: operators keep the catalog and fulfil or cancel redemptions;
members browse what is on offer and redeem with an Idempotency-Key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from rewards.access import (
    Member,
    Merchandiser,
    Reader,
    Sessions,
)
from rewards.fields import ExternalId
from rewards.mall import service
from rewards.mall.domain import RedemptionStatus
from rewards.mall.schemas import (
    CancelIn,
    CatalogItemOut,
    CatalogPage,
    FulfilIn,
    ItemIn,
    ItemOut,
    ItemPage,
    ItemPatch,
    RedeemIn,
    RedemptionOut,
    RedemptionPage,
)
from rewards.points.repository import ConcurrentUpdate
from servicekit.db import read_only, transaction
from servicekit.idempotency import KEY_PATTERN, answer_once
from servicekit.pagination import Cursor, Limit, encode_cursor, keyset_after, page_of
from servicekit.problems import Problem

router = APIRouter(prefix="/v1/rewards", tags=["rewards: mall"])

# Ids are UUIDs; anything else cannot exist, and must not reach the database as is.
ID_PATTERN = r"^[0-9A-Za-z-]+$"
Id = Annotated[str, Path(min_length=1, max_length=36, pattern=ID_PATTERN)]
MAX_REDEEM_KEY = 200  # the stored key carries a per-member prefix within the kit's 255
# servicekit's RequiredIdempotencyKey, shorter: the document says so, the validator checks it.
RedeemKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        max_length=MAX_REDEEM_KEY,
        description="Required. Unique per intended redemption; a retry with the same key "
        "gets the first answer, never a second redemption.",
    ),
]


# ------------------------------------------------------------------ operators


@router.post("/mall/items", status_code=201, summary="Add an item to the catalog")
async def create_item(body: ItemIn, principal: Merchandiser, sessions: Sessions) -> ItemOut:
    draft = service.NewItem(**body.model_dump())
    async with transaction(sessions) as session:
        item = await service.create_item(session, principal.tenant_id, draft)
    return ItemOut.model_validate(item)


@router.get("/mall/items", summary="Every item of the catalog, archived ones too")
async def list_items(
    principal: Reader, sessions: Sessions, cursor: Cursor = None, limit: Limit = 50
) -> ItemPage:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await service.items(session, principal.tenant_id, after=after, limit=limit)
    page = page_of(rows, limit, ItemOut)
    return ItemPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/mall/items/{item_id}", summary="One item of the catalog")
async def get_item(item_id: Id, principal: Reader, sessions: Sessions) -> ItemOut:
    async with read_only(sessions) as session:
        item = await service.item(session, principal.tenant_id, item_id)
    return ItemOut.model_validate(item)


@router.patch("/mall/items/{item_id}", summary="Change an item; `stock` is the number left")
async def update_item(
    item_id: Id, body: ItemPatch, principal: Merchandiser, sessions: Sessions
) -> ItemOut:
    async with transaction(sessions) as session:
        item = await service.update_item(session, principal.tenant_id, item_id, body.changes())
    return ItemOut.model_validate(item)


@router.delete(
    "/mall/items/{item_id}",
    status_code=204,
    summary="Archive an item: off the catalog, its redemptions can still be closed",
)
async def archive_item(item_id: Id, principal: Merchandiser, sessions: Sessions) -> Response:
    async with transaction(sessions) as session:
        await service.update_item(session, principal.tenant_id, item_id, {"archived": True})
    return Response(status_code=204)


@router.get("/mall/redemptions", summary="Redemptions, oldest first: the fulfilment queue")
async def list_redemptions(
    principal: Reader,
    sessions: Sessions,
    status: RedemptionStatus | None = None,
    item_id: Annotated[str | None, Query(max_length=36, pattern=ID_PATTERN)] = None,
    member_id: Annotated[ExternalId | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RedemptionPage:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await service.redemptions(
            session,
            principal.tenant_id,
            after=after,
            limit=limit,
            status=status,
            item_id=item_id,
            member_id=member_id,
        )
    page = page_of(rows, limit, RedemptionOut)
    return RedemptionPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/mall/redemptions/{redemption_id}", summary="One redemption")
async def get_redemption(redemption_id: Id, principal: Reader, sessions: Sessions) -> RedemptionOut:
    async with read_only(sessions) as session:
        row = await service.redemption(session, principal.tenant_id, redemption_id)
    return RedemptionOut.of(row)


@router.post(
    "/mall/redemptions/{redemption_id}/fulfil",
    summary="Mark a redemption fulfilled (again: unchanged)",
    responses={409: {"description": "Already cancelled"}},
)
async def fulfil(
    redemption_id: Id, body: FulfilIn, principal: Merchandiser, sessions: Sessions
) -> RedemptionOut:
    async with transaction(sessions) as session:
        row = await service.fulfil_redemption(
            session, principal.tenant_id, redemption_id, principal.subject, body.reference
        )
    return RedemptionOut.of(row)


@router.post(
    "/mall/redemptions/{redemption_id}/cancel",
    summary="Cancel a redemption: its points and its unit go back (again: unchanged)",
    responses={409: {"description": "Already fulfilled"}},
)
async def cancel(
    redemption_id: Id, body: CancelIn, principal: Merchandiser, sessions: Sessions
) -> RedemptionOut:
    try:
        async with transaction(sessions) as session:
            row = await service.cancel_redemption(
                session, principal.tenant_id, redemption_id, principal.subject, body.reason
            )
    except ConcurrentUpdate as error:
        raise Problem(409, "conflict", "Concurrent change", "retry the request") from error
    return RedemptionOut.of(row)


# -------------------------------------------------------------------- members


@router.get("/catalog", summary="What is on offer now, with what I may still redeem")
async def catalog(
    principal: Member,
    sessions: Sessions,
    community_id: Annotated[ExternalId | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> CatalogPage:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        found = await service.catalog(
            session,
            principal.tenant_id,
            principal.subject,
            after=after,
            limit=limit,
            community_id=community_id,
        )
    items = [CatalogItemOut.of(entry) for entry in found[:limit]]
    last = found[limit - 1].item if len(found) > limit else None
    more = encode_cursor([last.created_at.isoformat(), last.id]) if last else None
    return CatalogPage(items=items, next_cursor=more)


@router.get("/catalog/{item_id}", summary="One item on offer")
async def catalog_item(item_id: Id, principal: Member, sessions: Sessions) -> CatalogItemOut:
    async with read_only(sessions) as session:
        entry = await service.catalog_entry(
            session, principal.tenant_id, principal.subject, item_id
        )
    return CatalogItemOut.of(entry)


@router.post(
    "/catalog/{item_id}/redeem",
    status_code=201,
    summary="Redeem one unit for points; send an Idempotency-Key",
    responses={
        201: {"model": RedemptionOut},
        409: {"description": "Out of stock, not enough points, level or limit"},
    },
)
async def redeem(
    item_id: Id,
    request: Request,
    principal: Member,
    sessions: Sessions,
    idempotency_key: RedeemKey,
    body: RedeemIn | None = None,
) -> JSONResponse:
    key = idempotency_key
    note = body.note if body else None

    async def operation(session: AsyncSession) -> tuple[int, Any]:
        row = await service.redeem(
            session,
            tenant_id=principal.tenant_id,
            member_id=principal.subject,
            item_id=item_id,
            key=key,
            note=note,
        )
        return 201, RedemptionOut.of(row).model_dump(mode="json")

    request_body = {"member_id": principal.subject, "note": note}
    return await answer_once(
        request,
        sessions,
        tenant_id=principal.tenant_id,
        key=service.scoped_key(principal.subject, key),
        body=request_body,
        operation=operation,
        retryable=(ConcurrentUpdate,),
    )


@router.get("/me/redemptions", summary="My redemptions, newest first")
async def my_redemptions(
    principal: Member, sessions: Sessions, cursor: Cursor = None, limit: Limit = 50
) -> RedemptionPage:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await service.redemptions(
            session,
            principal.tenant_id,
            after=after,
            limit=limit,
            member_id=principal.subject,
            newest_first=True,
        )
    page = page_of(rows, limit, RedemptionOut)
    return RedemptionPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/me/redemptions/{redemption_id}", summary="One of my redemptions")
async def my_redemption(redemption_id: Id, principal: Member, sessions: Sessions) -> RedemptionOut:
    async with read_only(sessions) as session:
        row = await service.redemption(
            session, principal.tenant_id, redemption_id, member_id=principal.subject
        )
    return RedemptionOut.of(row)
