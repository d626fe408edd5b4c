"""Community rules (群规): managers publish versions; members read and accept them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from onboarding.access import Member
from onboarding.membership.schemas import MembershipOut
from onboarding.rules.service import NewRules, Rules
from onboarding.schemas import (
    RulesVersion,
    Strict,
)
from servicekit.auth import CurrentPrincipal
from servicekit.pagination import Cursor, Limit, Page, keyset_after, next_cursor
from servicekit.text import trimmed

router = APIRouter(prefix="/v1/onboarding", tags=["onboarding: rules"])
me = APIRouter(prefix="/v1/onboarding/me", tags=["onboarding: me"])


async def rules_service(request: Request) -> Rules:
    return Rules(request.app.state.sessions)


RulesDep = Annotated[Rules, Depends(rules_service)]


class RulesPublish(Strict):
    text: Annotated[str, trimmed(1, 20000)]
    summary: Annotated[str, trimmed(0, 2000)] = ""
    grace_days: Annotated[int, Field(ge=0, le=90)] = 7  # to re-accept before being muted


class RulesAccept(Strict):
    version: RulesVersion


class RulesOut(BaseModel):
    id: str
    community_id: str
    version: int
    text: str
    summary: str
    grace_days: int
    grace_ends_at: datetime
    published_by: str
    published_at: datetime

    @classmethod
    def of(cls, row: Any) -> RulesOut:
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "published_at"}
        return cls(published_at=row.created_at, **fields)


class AcceptedOut(BaseModel):
    community_id: str
    version: int
    membership: MembershipOut


class PendingRulesOut(BaseModel):
    community_id: str
    community_name: str
    version: int
    summary: str
    grace_ends_at: datetime
    muted: bool  # the grace period ended: the member is muted until they accept


@router.post("/communities/{community_id}/rules", status_code=201, response_model=RulesOut)
async def publish_rules(
    community_id: str, body: RulesPublish, principal: CurrentPrincipal, rules: RulesDep
) -> RulesOut:
    """Publish the next version; seated members who have not accepted it when the grace
    period ends are muted until they do. Joining from now on needs this version accepted."""
    draft = NewRules(body.text, body.summary, body.grace_days)
    return RulesOut.of(await rules.publish(principal, community_id, draft))


@router.get("/communities/{community_id}/rules", response_model=RulesOut)
async def current_rules(
    community_id: str, principal: CurrentPrincipal, rules: RulesDep
) -> RulesOut:
    """The current version (404 when the community has no rules)."""
    return RulesOut.of(await rules.current(principal, community_id))


@router.get("/communities/{community_id}/rules/versions", response_model=Page[RulesOut])
async def rules_history(
    community_id: str,
    principal: CurrentPrincipal,
    rules: RulesDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RulesOut]:
    """Every published version, oldest first."""
    rows = await rules.history(principal, community_id, keyset_after(cursor), limit + 1)
    items = [RulesOut.of(row) for row in rows[:limit]]
    return Page[RulesOut](items=items, next_cursor=next_cursor(rows, limit))


@router.post("/communities/{community_id}/rules/accept", response_model=AcceptedOut)
async def accept_rules(
    community_id: str, body: RulesAccept, member: Member, rules: RulesDep
) -> AcceptedOut:
    """Accept the current version (409 with ``current_version`` for any other): a mute for
    not accepting ends; a sanction mute keeps running."""
    accepted = await rules.accept(member.tenant_id, member.subject, community_id, body.version)
    return AcceptedOut(
        community_id=accepted.community_id,
        version=accepted.version,
        membership=MembershipOut.of(accepted.membership),
    )


@me.get("/rules", response_model=list[PendingRulesOut])
async def my_pending_rules(member: Member, rules: RulesDep) -> list[PendingRulesOut]:
    """The rules the member still has to accept, in each community they are in."""
    return [
        PendingRulesOut(
            community_id=item.community.id,
            community_name=item.community.name,
            version=item.rules.version,
            summary=item.rules.summary,
            grace_ends_at=item.rules.grace_ends_at,
            muted=item.membership.rules_muted,
        )
        for item in await rules.pending(member.tenant_id, member.subject)
    ]
