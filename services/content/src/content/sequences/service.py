"""Use cases of newcomer and reactivation sequences: define them, start and stop runs
from onboarding's and insights' events, fire each step once from its timer, and count how
many members reached it."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from content import events
from content.audience.domain import SEATED, Tier
from content.audience.repository import AudienceRepository
from content.audience.service import require_communities
from content.sequences import domain
from content.sequences.domain import Outcome, RunStatus, Step, Trigger
from content.sequences.repository import Row, SequenceRepository, ended
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

STEP_TIMER = "content.sequence_step"


def steps_json(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
    return [
        {
            "delay_s": int(step.delay.total_seconds()),
            "kind": step.kind.value,
            "title": step.title,
            "body": step.body,
            "condition": None
            if step.condition is None
            else {
                "min_level": step.condition.min_level,
                "tiers": sorted(step.condition.tiers),
            },
        }
        for step in steps
    ]


def steps_of(data: list[dict[str, Any]]) -> tuple[Step, ...]:
    return tuple(
        Step(
            delay=timedelta(seconds=item["delay_s"]),
            kind=domain.StepKind(item["kind"]),
            body=item["body"],
            title=item.get("title"),
            condition=None
            if item.get("condition") is None
            else domain.Condition(
                min_level=item["condition"].get("min_level"),
                tiers=frozenset(Tier(t) for t in item["condition"].get("tiers") or []),
            ),
        )
        for item in data
    )


async def create(
    session: AsyncSession,
    principal: Principal,
    name: str,
    community_id: str | None,
    trigger: Trigger,
    steps: tuple[Step, ...],
    now: datetime,
) -> Row:
    try:
        domain.check(steps)
    except domain.InvalidSequence as error:
        raise Problem(422, error.slug, "Invalid sequence", error.detail) from error
    if community_id is not None:
        await require_communities(session, principal.tenant_id, [community_id])
    repo = SequenceRepository(session)
    sequence_id = str(uuid.uuid4())
    await repo.add(
        {
            "id": sequence_id,
            "tenant_id": principal.tenant_id,
            "community_id": community_id,
            "name": name,
            "trigger": trigger.value,
            "steps": steps_json(steps),
            "active": True,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    row = await repo.sequence(principal.tenant_id, sequence_id)
    assert row is not None
    return row


async def get(session: AsyncSession, principal: Principal, sequence_id: str) -> Row:
    row = await SequenceRepository(session).sequence(principal.tenant_id, sequence_id)
    if row is None:
        raise not_found("sequence")
    return row


async def set_active(
    session: AsyncSession, principal: Principal, sequence_id: str, active: bool
) -> Row:
    """Deactivated: no new run starts, and running ones stop at their next step."""
    row = await get(session, principal, sequence_id)
    await SequenceRepository(session).set_active(row.id, active)
    return await get(session, principal, sequence_id)


@dataclass(frozen=True)
class Reach:
    runs: dict[str, int]  # by status
    steps: list[dict[str, int]]  # per step: delivered, skipped


async def reach(session: AsyncSession, sequence: Row) -> Reach:
    repo = SequenceRepository(session)
    counts: Counter[tuple[int, str]] = Counter()
    for row in await repo.reached(sequence.id):
        counts[(int(row.step), str(row.outcome))] = int(row.n)
    runs = {status.value: 0 for status in RunStatus}
    runs.update({str(row.status): int(row.n) for row in await repo.runs_by_status(sequence.id)})
    steps = [
        {outcome.value: counts[(index, outcome.value)] for outcome in Outcome}
        for index in range(len(sequence.steps))
    ]
    return Reach(runs, steps)


# --- runs, from onboarding's and insights' events and the step timers ---------------------


@dataclass(frozen=True)
class Start:
    tenant_id: str
    trigger: Trigger
    membership_id: str
    member_id: str
    community_id: str
    tier: str | None
    at: datetime
    held_out: bool = False  # insights' control arm: never started
    occasion: str = ""  # see domain.occasion


async def start(session: AsyncSession, facts: Sequence[Start]) -> int:
    """Start every active sequence each trigger applies to (once per membership); returns
    how many started. The active sequences are read once per tenant and trigger of the run
    (a burst of joins is one read, not one per join)."""
    repo = SequenceRepository(session)
    active: dict[tuple[str, Trigger], Sequence[Row]] = {}
    started = 0
    for fact in facts:
        key = (fact.tenant_id, fact.trigger)
        if key not in active:
            active[key] = await repo.active(fact.tenant_id, fact.trigger.value)
        for sequence in active[key]:
            if domain.applies(
                Trigger(sequence.trigger),
                sequence.community_id,
                fact.trigger,
                fact.community_id,
                held_out=fact.held_out,
            ):
                started += await _start_run(session, sequence, fact)
    return started


async def _start_run(session: AsyncSession, sequence: Row, fact: Start) -> int:
    """1 if the run started, 0 if this sequence already ran for this membership and
    occasion."""
    run_id = str(uuid.uuid4())
    values = {
        "id": run_id,
        "tenant_id": fact.tenant_id,
        "sequence_id": sequence.id,
        "membership_id": fact.membership_id,
        "member_id": fact.member_id,
        "community_id": fact.community_id,
        "tier": fact.tier,
        "status": RunStatus.RUNNING.value,
        "next_step": 0,
        "started_at": fact.at,
        "ended_at": None,
        "stop_reason": None,
        "occasion": fact.occasion,
    }
    if not await SequenceRepository(session).start_run(values):
        return 0
    due = domain.due_at(fact.at, steps_of(sequence.steps), 0)
    await _arm(session, run_id, 0, due)
    return 1


async def _arm(session: AsyncSession, run_id: str, step: int, due: datetime) -> None:
    # A key per step: the runner marks the firing timer's row fired after its handler, so
    # re-arming that same key from inside the handler would be lost.
    await timers.schedule(
        session, STEP_TIMER, f"{run_id}:{step}", due, {"run_id": run_id, "step": step}
    )


async def stop(
    session: AsyncSession, tenant_id: str, membership_id: str, reason: str, at: datetime
) -> None:
    """Leave, removal or refund: the membership's running runs stop, their next timer goes."""
    runs = await SequenceRepository(session).running(tenant_id, membership_id)
    await _stop_runs(session, runs, reason, at)


async def _stop_runs(session: AsyncSession, runs: Sequence[Row], reason: str, at: datetime) -> None:
    repo = SequenceRepository(session)
    for run in runs:
        await repo.update_run(run.id, ended(RunStatus.STOPPED, at, reason))
        await timers.cancel(session, STEP_TIMER, f"{run.id}:{run.next_step}")


@dataclass(frozen=True)
class Silence:
    """insights' ``member.went_silent``: the fields content reads."""

    tenant_id: str
    member_id: str
    community_id: str
    silent_since: datetime
    held_out: bool


async def start_silent(session: AsyncSession, silences: Sequence[Silence], now: datetime) -> int:
    """Start the reactivation sequences of silent members, on the membership content's
    projection seats them by in that community (the event names the member, not the
    membership); no seat there, no run. Held-out members are left to ``domain.applies``.

    A run counts from ``now``, when content hears of the silence, not from
    ``silent_since``: a silence applied late (a lagging consumer, a replayed DLQ) starts
    its nudges then instead of firing past-due ones in a burst, and another service's
    clock never puts a run in the future."""
    keys = [(silence.tenant_id, silence.member_id) for silence in silences]
    memberships = await AudienceRepository(session).of_members(keys)
    facts = []
    for silence in silences:
        mine = memberships.get((silence.tenant_id, silence.member_id), [])
        found = domain.reachable(mine, silence.community_id)
        if found is None:
            continue
        membership_id, state = found
        facts.append(
            Start(
                tenant_id=silence.tenant_id,
                trigger=Trigger.SILENT,
                membership_id=membership_id,
                member_id=silence.member_id,
                community_id=silence.community_id,
                tier=state.tier,
                at=now,
                held_out=silence.held_out,
                occasion=domain.occasion(Trigger.SILENT, silence.silent_since),
            )
        )
    return await start(session, facts)


async def end_on_return(
    session: AsyncSession, tenant_id: str, member_id: str, community_id: str, at: datetime
) -> None:
    """insights' ``member.reactivated``: the member came back, so their reactivation runs
    in that community stop (no more nudges); newcomer runs go on."""
    triggers = [trigger.value for trigger in Trigger if domain.ends_on_return(trigger)]
    repo = SequenceRepository(session)
    runs = await repo.running_of_member(tenant_id, member_id, community_id, triggers)
    await _stop_runs(session, runs, "reactivated", at)


async def fire_step(session: AsyncSession, timer: timers.Timer) -> None:
    """Deliver (or skip) one step, exactly once: the run row is locked, the step's row is
    written once (a retried or duplicated timer finds it and does nothing), and the
    event goes through the outbox in the same transaction."""
    repo = SequenceRepository(session)
    run = await repo.run(str(timer.payload["run_id"]), lock=True)
    index = int(timer.payload["step"])
    if run is None or run.status != RunStatus.RUNNING or run.next_step != index:
        return
    sequence = await repo.sequence(run.tenant_id, run.sequence_id)
    now = utcnow()
    if sequence is None or not sequence.active:
        await repo.update_run(run.id, ended(RunStatus.STOPPED, now, "sequence-deactivated"))
        return
    steps = steps_of(sequence.steps)
    step = steps[index]
    level, tier = await _member_now(session, run)
    outcome = Outcome.DELIVERED if domain.holds(step.condition, level, tier) else Outcome.SKIPPED
    reached = {"run_id": run.id, "step": index, "sequence_id": sequence.id}
    if not await repo.reach({**reached, "outcome": outcome.value, "at": now}):
        return
    if outcome is Outcome.DELIVERED:
        await add_event(session, events.sequence_step_delivered(run, sequence, index, step, now))
    following = domain.next_step(index, steps)
    if following is None:
        await repo.update_run(run.id, ended(RunStatus.DONE, now))
        return
    await repo.update_run(run.id, {"next_step": following})
    await _arm(session, run.id, following, domain.due_at(run.started_at, steps, following))


async def _member_now(session: AsyncSession, run: Row) -> tuple[int, str | None]:
    """The member's level and tier in the run's community, from the projection; the tier
    at the start when the projection has no seat yet (another consumer group feeds it)."""
    viewer = await AudienceRepository(session).viewer(run.tenant_id, run.member_id)
    seats = [s for s in viewer.seats if s.community_id == run.community_id and s.status in SEATED]
    tier = seats[0].tier if seats else run.tier
    return viewer.level, tier
