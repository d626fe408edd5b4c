"""Newcomer and reactivation sequences (SOP): operators define them and see how far
members got."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from content.access import Editor, Reader, Sessions
from content.sequences import service
from content.sequences.repository import SequenceRepository
from content.sequences.schemas import (
    ActiveIn,
    SequenceDetailOut,
    SequenceIn,
    SequenceOut,
    StepReach,
)
from servicekit.db import read_only, transaction
from servicekit.problems import problem_responses
from servicekit.text import Line
from servicekit.types import utcnow

router = APIRouter(prefix="/v1/content", tags=["content: newcomer sequences"])

SequenceId = Annotated[Line, Path(max_length=36)]
NOT_FOUND = problem_responses({404: "No such sequence (or community) for this tenant"})


@router.post(
    "/sequences",
    status_code=201,
    summary="Define a sequence: steps after a welcome, an activation or a silence",
    responses={**NOT_FOUND, 422: {"description": "Steps that break a rule"}},
)
async def create(body: SequenceIn, sessions: Sessions, principal: Editor) -> SequenceOut:
    steps = tuple(step.value() for step in body.steps)
    async with transaction(sessions) as session:
        row = await service.create(
            session, principal, body.name, body.community_id, body.trigger, steps, utcnow()
        )
    return SequenceOut.of(row)


@router.get("/sequences", summary="The tenant's sequences, oldest first")
async def list_sequences(sessions: Sessions, principal: Reader) -> list[SequenceOut]:
    async with read_only(sessions) as session:
        rows = await SequenceRepository(session).all(principal.tenant_id)
    return [SequenceOut.of(row) for row in rows]


@router.get(
    "/sequences/{sequence_id}",
    summary="A sequence with how many members reached each step",
    responses=NOT_FOUND,
)
async def get(sequence_id: SequenceId, sessions: Sessions, principal: Reader) -> SequenceDetailOut:
    async with read_only(sessions) as session:
        row = await service.get(session, principal, sequence_id)
        reach = await service.reach(session, row)
    return SequenceDetailOut(
        **SequenceOut.of(row).model_dump(),
        runs=reach.runs,
        reach=[StepReach(**counts) for counts in reach.steps],
    )


@router.patch(
    "/sequences/{sequence_id}",
    summary="Pause or resume: paused, no run starts and running ones stop at their next step",
    responses=NOT_FOUND,
)
async def set_active(
    sequence_id: SequenceId, body: ActiveIn, sessions: Sessions, principal: Editor
) -> SequenceOut:
    async with transaction(sessions) as session:
        row = await service.set_active(session, principal, sequence_id, body.active)
    return SequenceOut.of(row)
