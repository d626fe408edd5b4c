"""The pull feed: a tenant's events in order, for integrations that prefer polling."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from integrations.access import Config, FeedReader, Now, Sessions
from integrations.feed import domain, service
from integrations.webhooks.domain import PATTERN
from servicekit.db import read_only
from servicekit.problems import problem_responses

router = APIRouter(prefix="/v1/integrations", tags=["integrations: event feed"])

TypePattern = Annotated[str, Field(min_length=1, max_length=200, pattern=PATTERN)]


class FeedEvent(BaseModel):
    id: str = Field(description="The event's id (the webhook-id of its messages is `msg_` + it)")
    type: str = Field(description="e.g. `membership.activated`, `points.credited`")
    timestamp: datetime = Field(description="When it happened")
    data: dict[str, Any]


class FeedPage(BaseModel):
    items: list[FeedEvent]
    next_cursor: str = Field(description="Pass as `after` to read on (also when no item came)")
    has_more: bool


@router.get(
    "/events",
    summary="The tenant's events after a cursor, oldest first",
    description=(
        "Events are kept for the configured retention (default 30 days). Poll with the "
        "`next_cursor` of the previous answer as `after`; an empty page returns the same "
        "cursor. `types` selects by pattern (`membership.*`, `points.credited`)."
    ),
    responses=problem_responses({400: "A cursor this feed did not issue"}),
)
async def events(
    sessions: Sessions,
    principal: FeedReader,
    now: Now,
    settings: Config,
    after: Annotated[
        str | None, Query(max_length=100, description="`next_cursor` of the previous page")
    ] = None,
    types: Annotated[list[TypePattern] | None, Query(max_length=domain.MAX_TYPES)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FeedPage:
    retention = timedelta(days=settings.feed_retention_days)
    async with read_only(sessions) as session:
        found = await service.page(
            session, principal.tenant_id, after, types or [], limit, now, retention
        )
    items = [
        FeedEvent(id=row.event_id, type=row.type, timestamp=row.occurred_at, data=row.data)
        for row in found.rows
    ]
    return FeedPage(items=items, next_cursor=found.next_cursor, has_more=found.has_more)
