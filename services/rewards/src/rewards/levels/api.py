"""Levels: operators read and set the thresholds and names; a member's own level."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewards.access import Editor, Member, Reader
from rewards.fields import Name
from rewards.levels import service
from rewards.levels.domain import LevelScheme
from rewards.levels.service import Levels, MyLevel
from servicekit.db import read_only, transaction

router = APIRouter(prefix="/v1/rewards", tags=["rewards: rules and levels"])


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: Annotated[int, Field(ge=0, le=10**12, description="Lifetime points")]
    name: Name


class LevelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: Annotated[list[LevelIn], Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _thresholds(self) -> LevelsIn:
        thresholds = [level.threshold for level in self.levels]
        if thresholds[0] != 0:
            raise ValueError("the first level starts at 0 points")
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("thresholds must strictly increase")
        return self


class LevelOut(BaseModel):
    level: int
    threshold: int
    name: str


class LevelsOut(BaseModel):
    levels: list[LevelOut]
    updated_at: datetime | None = Field(description="Null: the defaults, never changed")

    @classmethod
    def of(cls, levels: Levels) -> LevelsOut:
        scheme = levels.scheme
        return cls(
            levels=[
                LevelOut(level=n, threshold=threshold, name=name)
                for n, (threshold, name) in enumerate(
                    zip(scheme.thresholds, scheme.names, strict=True), start=1
                )
            ],
            updated_at=levels.updated_at,
        )


class MyLevelOut(BaseModel):
    member_id: str
    lifetime: int
    level: int
    name: str
    floor: int
    next_level_at: int | None
    next_name: str | None
    points_to_next: int | None
    percent: int

    @classmethod
    def of(cls, mine: MyLevel) -> MyLevelOut:
        progress = mine.progress
        return cls(
            member_id=mine.member_id,
            lifetime=mine.lifetime,
            level=progress.level,
            name=progress.name,
            floor=progress.floor,
            next_level_at=progress.next_level_at,
            next_name=mine.next_name,
            points_to_next=progress.points_to_next,
            percent=progress.percent,
        )


@router.get("/levels", summary="Level thresholds (lifetime points) and names")
async def get_levels(request: Request, principal: Reader) -> LevelsOut:
    async with read_only(request.app.state.sessions) as session:
        levels = await service.levels(session, principal.tenant_id)
    return LevelsOut.of(levels)


@router.put(
    "/levels",
    summary="Set thresholds and names; members' levels follow at their next points change",
)
async def put_levels(body: LevelsIn, request: Request, principal: Editor) -> LevelsOut:
    scheme = LevelScheme(
        tuple(level.threshold for level in body.levels), tuple(level.name for level in body.levels)
    )
    async with transaction(request.app.state.sessions) as session:
        await service.save_levels(session, principal.tenant_id, scheme)
    async with read_only(request.app.state.sessions) as session:
        levels = await service.levels(session, principal.tenant_id)
    return LevelsOut.of(levels)


@router.get("/me/level", summary="My level, its name and the points to the next")
async def my_level(request: Request, principal: Member) -> MyLevelOut:
    async with read_only(request.app.state.sessions) as session:
        mine = await service.my_level(session, principal.tenant_id, principal.subject)
    return MyLevelOut.of(mine)
