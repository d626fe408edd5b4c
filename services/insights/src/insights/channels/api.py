"""Conversion by channel: routing code / invite / campaign → joined → paid → renewed."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from insights.access import Now, Sessions, Viewer
from insights.channels import service
from insights.export import Format, csv_response
from insights.figures import service as figure_service
from insights.figures.api import PERIOD_RESPONSES, CommunityFilter, First, FormatQuery, Last
from servicekit.db import read_only

router = APIRouter(prefix="/v1/insights", tags=["insights: channels"])


class ChannelOut(BaseModel):
    source: str = Field(description="open, application, invite, payment, routing_code, level")
    code: str | None = Field(description="The routing or invite code")
    channel: str | None = Field(description="The code's channel tag (poster, partner...)")
    joined: int
    paid: int
    renewed: int
    refunded: int
    paid_rate: float = Field(description="paid ÷ joined")
    renewed_rate: float = Field(description="renewed ÷ joined")


class FunnelOut(BaseModel):
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    community_id: str | None
    channels: list[ChannelOut]


COLUMNS = list(ChannelOut.model_fields)


@router.get(
    "/channels",
    summary="Conversion by channel of the members who joined in a period (default 90 days)",
    responses=PERIOD_RESPONSES,
    response_model=FunnelOut,
)
async def channels(
    principal: Viewer,
    sessions: Sessions,
    now: Now,
    first: First = None,
    last: Last = None,
    community_id: CommunityFilter = None,
    format: FormatQuery = Format.JSON,
) -> Any:
    async with read_only(sessions) as session:
        rows, first, last = await figure_service.scope(
            session, principal, community_id, first, last, now, default_days=90
        )
        ids = [row.community_id for row in rows]
        found = await service.funnel(session, principal.tenant_id, ids, first, last)
    out = [
        ChannelOut(
            source=f.channel.kind,
            code=f.channel.code,
            channel=f.channel.channel,
            joined=f.joined,
            paid=f.paid,
            renewed=f.renewed,
            refunded=f.refunded,
            paid_rate=f.paid_rate,
            renewed_rate=f.renewed_rate,
        )
        for f in found
    ]
    if format is Format.CSV:
        return csv_response(
            "channels.csv", COLUMNS, ([getattr(c, n) for n in COLUMNS] for c in out)
        )
    return FunnelOut.model_validate(
        {"from": first, "to": last, "community_id": community_id, "channels": out}
    )
