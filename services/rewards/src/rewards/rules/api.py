"""Operators' API for earning rules (versioned), levels, settings and points reports;
and a member's own level.

Owners and admins change rules, levels and settings; every operator role reads them.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from rewards import admin
from rewards.api.admin_schemas import (
    EventType,
    LevelsIn,
    LevelsOut,
    MyLevelOut,
    ReportOut,
    RuleCreate,
    RuleDetailOut,
    RuleIn,
    RuleOut,
    RulePage,
    SettingsIn,
    SettingsOut,
)
from rewards.api.deps import Member, Reader, operator
from rewards.api.schemas import ExternalId
from rewards.domain.levels import LevelScheme
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.pagination import Cursor, Limit, decode_cursor, encode_cursor, invalid_cursor
from servicekit.problems import Problem
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/rewards", tags=["rewards: rules and levels"])

RULE_EDITORS = ("owner", "admin")
Editor = Annotated[Principal, operator(*RULE_EDITORS)]
RuleIdPath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class GroupBy(StrEnum):
    RULE = "rule"
    COMMUNITY = "community"
    DAY = "day"


def _admin(request: Request) -> admin.Admin:
    return admin.Admin(request.app.state.sessions)


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
    rows = await _admin(request).rules(
        principal.tenant_id,
        after=_after_rule(cursor),
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
    detail = await _admin(request).rule(principal.tenant_id, rule_id)
    return RuleDetailOut.of_detail(detail)


@router.post(
    "/rules",
    status_code=201,
    summary="Add an earning rule (version 1)",
    responses={409: {"description": "A rule with that id exists"}},
)
async def create_rule(body: RuleCreate, request: Request, principal: Editor) -> RuleOut:
    async with transaction(request.app.state.sessions) as session:
        head = await admin.create_rule(
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
        head = await admin.update_rule(
            session, principal.tenant_id, rule_id, body.definition(), principal.subject
        )
    return RuleOut.of(head)


@router.post("/rules/{rule_id}/archive", summary="Switch a rule off for good; history kept")
async def archive_rule(rule_id: RuleIdPath, request: Request, principal: Editor) -> RuleOut:
    async with transaction(request.app.state.sessions) as session:
        head = await admin.archive_rule(session, principal.tenant_id, rule_id, principal.subject)
    return RuleOut.of(head)


def _after_rule(cursor: str | None) -> str | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], str) or not 0 < len(values[0]) <= 100 or "\x00" in values[0]:
        raise invalid_cursor()
    return values[0]


# ----------------------------------------------------------------- levels


@router.get("/levels", summary="Level thresholds (lifetime points) and names")
async def get_levels(request: Request, principal: Reader) -> LevelsOut:
    return LevelsOut.of(await _admin(request).levels(principal.tenant_id))


@router.put(
    "/levels",
    summary="Set thresholds and names; members' levels follow at their next points change",
)
async def put_levels(body: LevelsIn, request: Request, principal: Editor) -> LevelsOut:
    scheme = LevelScheme(
        tuple(level.threshold for level in body.levels), tuple(level.name for level in body.levels)
    )
    async with transaction(request.app.state.sessions) as session:
        await admin.save_levels(session, principal.tenant_id, scheme)
    return LevelsOut.of(await _admin(request).levels(principal.tenant_id))


@router.get("/me/level", summary="My level, its name and the points to the next")
async def my_level(request: Request, principal: Member) -> MyLevelOut:
    return MyLevelOut.of(await _admin(request).my_level(principal.tenant_id, principal.subject))


# --------------------------------------------------------------- settings


@router.get("/settings", summary="The tenant's rewards settings")
async def get_settings(request: Request, principal: Reader) -> SettingsOut:
    days = await _admin(request).notice_days(principal.tenant_id)
    return SettingsOut(expiry_notice_days=days)


@router.put("/settings", summary="Change settings; the notice applies to points credited next")
async def put_settings(body: SettingsIn, request: Request, principal: Editor) -> SettingsOut:
    async with transaction(request.app.state.sessions) as session:
        await admin.save_notice_days(session, principal.tenant_id, body.expiry_notice_days)
    return SettingsOut(expiry_notice_days=body.expiry_notice_days)


# ---------------------------------------------------------------- reports


@router.get(
    "/reports/points",
    summary="Points earned, spent, expired, reversed over a period, from the ledger",
    responses={422: {"description": "Invalid period"}},
)
async def points_report(
    request: Request,
    principal: Reader,
    first: Annotated[date | None, Query(alias="from", description="First day (UTC)")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last day, inclusive")] = None,
    community_id: Annotated[ExternalId | None, Query()] = None,
    group_by: GroupBy | None = None,
) -> ReportOut:
    try:
        first, last = admin.report_period(first, last, utcnow().date())
    except admin.ReportPeriodError as error:
        raise Problem(422, "invalid-period", "Invalid period", str(error)) from error
    report = await _admin(request).report(
        principal.tenant_id,
        first,
        last,
        community_id=community_id,
        group_by=group_by.value if group_by else None,
    )
    return ReportOut.of(report, community_id, group_by.value if group_by else None)
