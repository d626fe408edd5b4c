"""The tenant's rewards settings: how many days ahead expiring points are announced."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from rewards.access import Editor, Reader
from rewards.notices import service
from servicekit.db import read_only, transaction

router = APIRouter(prefix="/v1/rewards", tags=["rewards: rules and levels"])


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expiry_notice_days: Annotated[int, Field(ge=0, le=90)] = Field(
        description="Announce expiring points this many days ahead; 0: never"
    )


class SettingsOut(BaseModel):
    expiry_notice_days: int


@router.get("/settings", summary="The tenant's rewards settings")
async def get_settings(request: Request, principal: Reader) -> SettingsOut:
    async with read_only(request.app.state.sessions) as session:
        days = await service.notice_days(session, principal.tenant_id)
    return SettingsOut(expiry_notice_days=days)


@router.put("/settings", summary="Change settings; the notice applies to points credited next")
async def put_settings(body: SettingsIn, request: Request, principal: Editor) -> SettingsOut:
    async with transaction(request.app.state.sessions) as session:
        await service.save_notice_days(session, principal.tenant_id, body.expiry_notice_days)
    return SettingsOut(expiry_notice_days=body.expiry_notice_days)
