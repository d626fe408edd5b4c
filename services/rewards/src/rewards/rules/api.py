"""Operators' API for earning rules (versioned).

Owners and admins change rules (and levels and settings); every operator role reads them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from rewards.access import Editor, Reader
from rewards.fields import ExternalId
from rewards.rules import service
from rewards.rules.schemas import (
    EventType,
    RuleCreate,
    RuleDetailOut,
    RuleIn,
    RuleOut,
    RulePage,
)
from servicekit.db import transaction
from servicekit.pagination import Cursor, Limit, decode_cursor, encode_cursor, invalid_cursor

router = APIRouter(prefix="/v1/rewards", tags=["rewards: rules and levels"])

RuleIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


# ------------------------------------------------------------------ rules


@router.get("/rules", summary="Earning rules, by id; the version in force of each")
async def list_rules(
    request: Request,
    principal: Reader,
    event_type: Annotated[EventType | None, Query()] = None,
    community_id: Annotated[
        ExternalId | None, Query(description="Rules of that community only")
    ] = None,
    archived: Annotated[bool | None, Query(description="Omit for both")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RulePage:
    after = _after_rule(cursor)
    # A write transaction: a tenant that never had an event gets its defaults now,
    # so the list shows the rules that will apply.
    async with transaction(request.app.state.sessions) as session:
        rows = await service.rules_page(
            session,
            principal.tenant_id,
            after=after,
            limit=limit,
            event_type=event_type,
            community_id=community_id,
            archived=archived,
        )
    items = [RuleOut.of(row) for row in rows[:limit]]
    more = len(rows) > limit
    return RulePage(items=items, next_cursor=encode_cursor([items[-1].rule_id]) if more else None)


@router.get("/rules/{rule_id}", summary="One rule with its versions, newest first")
async def get_rule(rule_id: RuleIdPath, request: Request, principal: Reader) -> RuleDetailOut:
    async with transaction(request.app.state.sessions) as session:
        detail = await service.rule_detail(session, principal.tenant_id, rule_id)
    return RuleDetailOut.of_detail(detail)


@router.post(
    "/rules",
    status_code=201,
    summary="Add an earning rule (version 1)",
    responses={409: {"description": "A rule with that id exists"}},
)
async def create_rule(body: RuleCreate, request: Request, principal: Editor) -> RuleOut:
    async with transaction(request.app.state.sessions) as session:
        head = await service.create_rule(
            session, principal.tenant_id, body.rule_id, body.definition(), principal.subject
        )
    return RuleOut.of(head)


@router.put(
    "/rules/{rule_id}",
    summary="Change a rule: a new version in force, the old one kept",
    responses={409: {"description": "The rule is archived"}},
)
async def update_rule(
    rule_id: RuleIdPath, body: RuleIn, request: Request, principal: Editor
) -> RuleOut:
    async with transaction(request.app.state.sessions) as session:
        head = await service.update_rule(
            session, principal.tenant_id, rule_id, body.definition(), principal.subject
        )
    return RuleOut.of(head)


@router.post("/rules/{rule_id}/archive", summary="Switch a rule off for good; history kept")
async def archive_rule(rule_id: RuleIdPath, request: Request, principal: Editor) -> RuleOut:
    async with transaction(request.app.state.sessions) as session:
        head = await service.archive_rule(session, principal.tenant_id, rule_id, principal.subject)
    return RuleOut.of(head)


def _after_rule(cursor: str | None) -> str | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], str) or not 0 < len(values[0]) <= 100 or "\x00" in values[0]:
        raise invalid_cursor()
    return values[0]
