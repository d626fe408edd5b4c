"""A community's silence settings: after how many idle days a member is silent, and the
share of silent members held out of outreach."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from insights.access import Sessions, TenantAdmin, Viewer
from insights.communities import service
from insights.silence import service as silence
from servicekit.db import read_only, transaction
from servicekit.problems import problem_responses
from servicekit.text import Body, Line

router = APIRouter(prefix="/v1/insights", tags=["insights: settings"])

CommunityId = Annotated[Line, Path(max_length=200)]
NOT_FOUND = problem_responses({404: "No such community for this caller"})


class SettingsIn(Body):
    silent_after_days: Annotated[int, Field(ge=1, le=365)] = Field(
        description="Whole local days without engagement before a member is silent"
    )
    holdout_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        description="Share of silent members held out of outreach, to measure it"
    )


class SettingsOut(BaseModel):
    community_id: str
    silent_after_days: int
    holdout_percent: int


@router.get(
    "/communities/{community_id}/settings",
    summary="A community's silence settings",
    responses=NOT_FOUND,
)
async def get_settings(
    community_id: CommunityId, principal: Viewer, sessions: Sessions
) -> SettingsOut:
    async with read_only(sessions) as session:
        [row] = await service.readable(session, principal, community_id)
    config = service.config_of(row)
    return SettingsOut(
        community_id=community_id,
        silent_after_days=config.settings.silent_after_days,
        holdout_percent=config.settings.holdout_percent,
    )


@router.put(
    "/communities/{community_id}/settings",
    summary="Set a community's silence settings (owners and admins); timers move at once",
    responses=NOT_FOUND,
)
async def put_settings(
    community_id: CommunityId, body: SettingsIn, principal: TenantAdmin, sessions: Sessions
) -> SettingsOut:
    async with transaction(sessions) as session:
        await service.save_settings(
            session, principal.tenant_id, community_id, body.silent_after_days, body.holdout_percent
        )
        await silence.rearm(session, principal.tenant_id, community_id)
    return SettingsOut(
        community_id=community_id,
        silent_after_days=body.silent_after_days,
        holdout_percent=body.holdout_percent,
    )
