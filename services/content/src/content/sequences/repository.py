"""Queries of newcomer and reactivation sequences, their runs and the steps reached."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from content.orm import sequence_runs, sequence_steps, sequences
from content.sequences.domain import RunStatus
from servicekit.db import insert_ignore

Row = sa.Row[Any]

# Read for every run of welcomes and activations: built once (building the statement and
# its cache key was a quarter of content's CPU during a join burst, profiled).
_ACTIVE = sa.select(sequences).where(
    sequences.c.tenant_id == sa.bindparam("tenant_id"),
    sequences.c.trigger == sa.bindparam("trigger"),
    sequences.c.active.is_(True),
)


class SequenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(sequences), values)

    async def sequence(self, tenant_id: str, sequence_id: str) -> Row | None:
        query = sa.select(sequences).where(
            sequences.c.tenant_id == tenant_id, sequences.c.id == sequence_id
        )
        return (await self.session.execute(query)).first()

    async def all(self, tenant_id: str) -> Sequence[Row]:
        query = (
            sa.select(sequences)
            .where(sequences.c.tenant_id == tenant_id)
            .order_by(sequences.c.created_at, sequences.c.id)
        )
        return (await self.session.execute(query)).all()

    async def set_active(self, sequence_id: str, active: bool) -> None:
        await self.session.execute(
            sa.update(sequences).where(sequences.c.id == sequence_id).values(active=active)
        )

    async def active(self, tenant_id: str, trigger: str) -> Sequence[Row]:
        params = {"tenant_id": tenant_id, "trigger": trigger}
        return (await self.session.execute(_ACTIVE, params)).all()

    async def start_run(self, values: dict[str, Any]) -> bool:
        """False when this sequence already ran for this membership and occasion."""
        return await insert_ignore(self.session, sequence_runs, values)

    async def run(self, run_id: str, *, lock: bool = False) -> Row | None:
        query = sa.select(sequence_runs).where(sequence_runs.c.id == run_id)
        query = query.with_for_update() if lock else query
        return (await self.session.execute(query)).first()

    async def running(self, tenant_id: str, membership_id: str) -> Sequence[Row]:
        query = (
            sa.select(sequence_runs)
            .where(
                sequence_runs.c.tenant_id == tenant_id,
                sequence_runs.c.membership_id == membership_id,
                sequence_runs.c.status == RunStatus.RUNNING.value,
            )
            .with_for_update()
        )
        return (await self.session.execute(query)).all()

    async def running_of_member(
        self, tenant_id: str, member_id: str, community_id: str, triggers: Sequence[str]
    ) -> Sequence[Row]:
        """The member's running runs in the community, of sequences with these triggers."""
        query = (
            sa.select(sequence_runs)
            .join(sequences, sequences.c.id == sequence_runs.c.sequence_id)
            .where(
                sequence_runs.c.tenant_id == tenant_id,
                sequence_runs.c.member_id == member_id,
                sequence_runs.c.community_id == community_id,
                sequence_runs.c.status == RunStatus.RUNNING.value,
                sequences.c.trigger.in_(triggers),
            )
            .with_for_update(of=sequence_runs)
        )
        return (await self.session.execute(query)).all()

    async def update_run(self, run_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.update(sequence_runs).where(sequence_runs.c.id == run_id).values(values)
        )

    async def reach(self, values: dict[str, Any]) -> bool:
        """False when the run had reached this step already (a retried timer)."""
        return await insert_ignore(self.session, sequence_steps, values)

    async def reached(self, sequence_id: str) -> Sequence[Row]:
        """(step, outcome, count) of the sequence."""
        query: Any = (
            sa.select(sequence_steps.c.step, sequence_steps.c.outcome, sa.func.count().label("n"))
            .where(sequence_steps.c.sequence_id == sequence_id)
            .group_by(sequence_steps.c.step, sequence_steps.c.outcome)
        )
        return (await self.session.execute(query)).all()

    async def runs_by_status(self, sequence_id: str) -> Sequence[Row]:
        query: Any = (
            sa.select(sequence_runs.c.status, sa.func.count().label("n"))
            .where(sequence_runs.c.sequence_id == sequence_id)
            .group_by(sequence_runs.c.status)
        )
        return (await self.session.execute(query)).all()


def ended(status: RunStatus, at: datetime, reason: str | None = None) -> dict[str, Any]:
    return {"status": status.value, "ended_at": at, "next_step": None, "stop_reason": reason}
