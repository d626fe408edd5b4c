"""Auto-moderation: the tenant's keyword and link rules and its flood limits (刷屏)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from content.access import Reader, Sessions, Setter
from content.audience.service import require_communities
from content.moderation import service
from content.moderation.domain import MAX_PATTERN, Action, RuleKind
from content.moderation.repository import TENANT_SCOPE, ModerationRepository
from content.moderation.schemas import FlagOut as FlagOut
from content.posts.repository import Row
from servicekit.db import read_only, transaction
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.problems import problem_responses
from servicekit.text import Body, Line
from servicekit.types import null_refused, utcnow

router = APIRouter(prefix="/v1/content", tags=["content: auto-moderation"])

RuleId = Annotated[Line, Path(max_length=36)]
CommunityId = Annotated[Line, Path(max_length=200)]
Pattern = Annotated[Line, Field(min_length=1, max_length=MAX_PATTERN)]
Note = Annotated[Line, Field(min_length=1, max_length=200)]
NOT_FOUND = problem_responses({404: "No such rule for this tenant"})
# What a member's screened write may answer besides its own problems (422 content-blocked
# is among the 422s every such route declares).
SCREENED = problem_responses(
    {429: "Flood control (刷屏): too many posts and comments; retry after `Retry-After` s"}
)
UNKNOWN_COMMUNITY = problem_responses({404: "No such community for this tenant"})
WRITTEN = problem_responses(
    {
        409: "The tenant has a rule of this kind with the same pattern",
        422: "A pattern that is no keyword or domain, or too many rules",
    }
)


class RuleIn(Body):
    kind: RuleKind = Field(description="keyword: a substring of the text; link: a domain")
    pattern: Pattern = Field(
        description=(
            "keyword: matched on normalised text (full-width/half-width, case and "
            "whitespace do not matter); link: example.com (with its subdomains), "
            "*.example.com (the same) or * (every linked host)"
        )
    )
    action: Action = Field(description="block: refused; hold: to the review queue; allow: exempt")
    strike: StrictBool = Field(
        default=True, description="A hold or block is a strike for onboarding's moderation"
    )
    note: Note | None = None

    def draft(self) -> service.RuleDraft:
        return service.RuleDraft(self.kind, self.pattern, self.action, self.strike, self.note)


_CLEARABLE = frozenset({"note"})


class RulePatch(Body):
    """Only the fields sent change; ``note: null`` clears the note. The kind stays."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=null_refused(all_but=_CLEARABLE))
    pattern: Pattern | None = None
    # inline, not a reference: the negative generator of schemathesis fails on a bare $ref
    # property of a body whose properties are all optional
    action: Literal["block", "hold", "allow"] | None = None
    strike: StrictBool | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _null_only_clears_the_note(self) -> RulePatch:
        nulled = sorted(
            name for name in self.model_fields_set - _CLEARABLE if getattr(self, name) is None
        )
        if nulled:
            raise ValueError(f"cannot be null: {', '.join(nulled)}")
        return self

    def patch(self) -> service.RulePatch:
        return service.RulePatch(
            pattern=self.pattern,
            action=Action(self.action) if self.action is not None else None,
            strike=self.strike,
            note=self.note,
            clear_note="note" in self.model_fields_set and self.note is None,
        )


class RuleOut(BaseModel):
    id: str
    kind: str
    pattern: str = Field(description="As written")
    normalised: str = Field(description="The form it is compared in")
    action: str
    strike: bool
    note: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Row) -> RuleOut:
        data: dict[str, Any] = dict(row._mapping)
        data["normalised"], data["pattern"] = data["pattern"], data["written"]
        return cls.model_validate(data)


class FloodIn(Body):
    max_items: Annotated[int | None, Field(ge=1, le=1000)] = Field(
        description="Posts and comments one member may write in one community per window; "
        "null: no flood control (on a community: none there, whatever the tenant's default)"
    )
    window_seconds: Annotated[int, Field(ge=1, le=86_400)] = Field(
        default=60, description="The window, in seconds"
    )
    action: Literal["block", "hold"] = Field(
        default="block", description="block (429 with Retry-After) or hold for review"
    )
    strike: StrictBool = True

    def draft(self) -> service.LimitDraft:
        return service.LimitDraft(
            self.max_items, self.window_seconds, Action(self.action), self.strike
        )


class FloodOut(BaseModel):
    scope: str = Field(description="tenant (the default), community (its own) or none")
    community_id: str | None
    max_items: int | None
    window_seconds: int | None
    action: str
    strike: bool
    updated_at: datetime | None


def _flood_out(row: Row | None, scope: str, community_id: str | None) -> FloodOut:
    if row is None:
        return FloodOut(
            scope="none",
            community_id=community_id,
            max_items=None,
            window_seconds=None,
            action=Action.BLOCK.value,
            strike=True,
            updated_at=None,
        )
    return FloodOut(
        scope=scope,
        community_id=community_id,
        max_items=row.max_items,
        window_seconds=row.window_seconds,
        action=row.action,
        strike=row.strike,
        updated_at=row.updated_at,
    )


# ---------------------------------------------------------------- rules


@router.post(
    "/moderation/rules",
    status_code=201,
    summary="Add a keyword or link rule: block, hold for review, or allow",
    responses=WRITTEN,
)
async def create_rule(body: RuleIn, sessions: Sessions, principal: Setter) -> RuleOut:
    async with transaction(sessions) as session:
        row = await service.create_rule(session, principal, body.draft(), utcnow())
    return RuleOut.of(row)


@router.get("/moderation/rules", summary="The tenant's rules, newest first")
async def list_rules(
    sessions: Sessions,
    principal: Reader,
    kind: Annotated[RuleKind | None, Query()] = None,
    action: Annotated[Action | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RuleOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await service.rules_page(session, principal, kind, action, after, limit + 1)
    items = [RuleOut.of(row) for row in rows[:limit]]
    return Page[RuleOut](items=items, next_cursor=next_cursor(rows, limit))


@router.get("/moderation/rules/{rule_id}", summary="A rule", responses=NOT_FOUND)
async def get_rule(rule_id: RuleId, sessions: Sessions, principal: Reader) -> RuleOut:
    async with read_only(sessions) as session:
        row = await service.get_rule(session, principal, rule_id)
    return RuleOut.of(row)


@router.patch(
    "/moderation/rules/{rule_id}",
    summary="Change a rule's pattern, action, strike or note",
    responses={**NOT_FOUND, **WRITTEN},
)
async def edit_rule(
    rule_id: RuleId, body: RulePatch, sessions: Sessions, principal: Setter
) -> RuleOut:
    async with transaction(sessions) as session:
        row = await service.edit_rule(session, principal, rule_id, body.patch(), utcnow())
    return RuleOut.of(row)


@router.delete(
    "/moderation/rules/{rule_id}", status_code=204, summary="Remove a rule", responses=NOT_FOUND
)
async def delete_rule(rule_id: RuleId, sessions: Sessions, principal: Setter) -> Response:
    async with transaction(sessions) as session:
        await service.delete_rule(session, principal, rule_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- flood limits


@router.get("/moderation/flood", summary="The tenant's default flood limit (刷屏)")
async def get_tenant_flood(sessions: Sessions, principal: Reader) -> FloodOut:
    async with read_only(sessions) as session:
        row = await ModerationRepository(session).limit(principal.tenant_id, TENANT_SCOPE)
    return _flood_out(row, "tenant", None)


@router.put("/moderation/flood", summary="Set the tenant's default flood limit (刷屏)")
async def put_tenant_flood(body: FloodIn, sessions: Sessions, principal: Setter) -> FloodOut:
    async with transaction(sessions) as session:
        row = await service.save_limit(session, principal, TENANT_SCOPE, body.draft(), utcnow())
    return _flood_out(row, "tenant", None)


@router.get(
    "/communities/{community_id}/flood",
    summary="The flood limit in force in a community: its own, else the tenant's default",
    responses=UNKNOWN_COMMUNITY,
)
async def get_community_flood(
    community_id: CommunityId, sessions: Sessions, principal: Reader
) -> FloodOut:
    async with read_only(sessions) as session:
        await require_communities(session, principal.tenant_id, [community_id])
        rows = await ModerationRepository(session).limits(principal.tenant_id, community_id)
    if community_id in rows:
        return _flood_out(rows[community_id], "community", community_id)
    return _flood_out(rows.get(TENANT_SCOPE), "tenant", community_id)


@router.put(
    "/communities/{community_id}/flood",
    summary="Set a community's own flood limit (max_items null: none there)",
    responses=UNKNOWN_COMMUNITY,
)
async def put_community_flood(
    community_id: CommunityId, body: FloodIn, sessions: Sessions, principal: Setter
) -> FloodOut:
    async with transaction(sessions) as session:
        await require_communities(session, principal.tenant_id, [community_id])
        row = await service.save_limit(session, principal, community_id, body.draft(), utcnow())
    return _flood_out(row, "community", community_id)


@router.delete(
    "/communities/{community_id}/flood",
    status_code=204,
    summary="Drop a community's own flood limit: the tenant's default applies again",
    responses=UNKNOWN_COMMUNITY,
)
async def delete_community_flood(
    community_id: CommunityId, sessions: Sessions, principal: Setter
) -> Response:
    async with transaction(sessions) as session:
        await require_communities(session, principal.tenant_id, [community_id])
        await ModerationRepository(session).drop_limit(principal.tenant_id, community_id)
    return Response(status_code=204)
