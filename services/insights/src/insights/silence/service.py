"""Silence use cases: presence moved by arrivals, departures and engagements (with one
timer per member at the instant they would go silent), the timer's decision, and the
reactivations. Called inside the consumer's or the timer's transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from insights import events
from insights.communities import service as communities
from insights.silence import domain
from insights.silence.repository import Key, SilenceRepository
from servicekit import timers
from servicekit.outbox import add_events

SILENCE_TIMER = "insights.silence"

Change = Literal["arrived", "ended", "seen"]


@dataclass(frozen=True)
class Sign:
    community_id: str
    member_id: str
    change: Change
    at: datetime


def timer_key(tenant_id: str, community_id: str, member_id: str) -> str:
    raw = f"{tenant_id}\x1f{community_id}\x1f{member_id}".encode()
    return hashlib.sha256(raw).hexdigest()


async def apply(
    session: AsyncSession,
    tenant_id: str,
    signs: Sequence[Sign],
    *,
    rearm: bool = False,
    configs: Mapping[str, communities.Config] | None = None,
) -> None:
    """Fold a batch's signs onto the members' presences, move the timers whose instant
    changed (``rearm``: every one, the zone or the settings changed), and record and
    announce the reactivations."""
    if not signs:
        return
    repo = SilenceRepository(session)
    keys: list[Key] = [(tenant_id, s.community_id, s.member_id) for s in signs]
    before = await repo.presences(keys)
    known: dict[Key, domain.Presence | None] = dict(before)
    changed: dict[Key, domain.Presence] = {}
    reactivations: list[tuple[Key, datetime, datetime]] = []
    for key, sign in zip(keys, signs, strict=True):
        current = known.get(key)
        if sign.change == "arrived":
            new: domain.Presence | None = domain.arrived(current, sign.at)
        elif sign.change == "ended":
            new = domain.ended(current, sign.at)
        else:
            outcome = domain.seen(current, sign.at)
            new = outcome.presence
            if outcome.ended_silence is not None:
                reactivations.append((key, outcome.ended_silence, sign.at))
        if new is not None:
            known[key] = changed[key] = new
    if not rearm:
        changed = {key: p for key, p in changed.items() if before.get(key) != p}
    await repo.save_presences(changed)
    named = {k[1] for k in changed}
    looked_up = (
        configs
        if configs is not None and named <= configs.keys()
        else await communities.configs(session, tenant_id, named)
    )

    def due(presence: domain.Presence | None, community_id: str) -> datetime | None:
        if presence is None or not presence.active or presence.silent_since is not None:
            return None
        config = looked_up[community_id]
        days = config.settings.silent_after_days
        return domain.silent_at(presence.last_engaged_at, days, config.zone)

    arm, disarm = [], []
    for key, presence in changed.items():
        _, community_id, member_id = key
        then, now = due(before.get(key), community_id), due(presence, community_id)
        if now == then and key in before and not rearm:
            continue  # the same local midnight: the timer stays where it is
        name = timer_key(*key)
        if now is None:
            disarm.append(name)
        else:
            payload = {"tenant_id": tenant_id, "community_id": community_id, "member_id": member_id}
            arm.append((name, now, payload))
    await timers.schedule_many(session, SILENCE_TIMER, arm)
    await timers.cancel_many(session, SILENCE_TIMER, disarm)
    announced = []
    for key, since, at in reactivations:
        episode = await repo.silence(key, since)
        await repo.mark_reactivated(key, since, at)
        held_out = episode[0] if episode is not None else False
        announced.append(
            events.reactivated(
                key[0], key[1], key[2], silent_since=since, reactivated_at=at, held_out=held_out
            )
        )
    await add_events(session, announced)


async def silence_due(session: AsyncSession, timer: timers.Timer) -> None:
    """The member's timer: silent if nothing moved it (as of its due time, so a late
    runner records the same instant)."""
    payload = timer.payload
    key: Key = (str(payload["tenant_id"]), str(payload["community_id"]), str(payload["member_id"]))
    repo = SilenceRepository(session)
    presence = (await repo.presences([key])).get(key)
    config = (await communities.configs(session, key[0], {key[1]}))[key[1]]
    days = config.settings.silent_after_days
    if not domain.goes_silent(presence, timer.due_at, days, config.zone):
        return
    assert presence is not None
    since = domain.silent_at(presence.last_engaged_at, days, config.zone)
    held_out = domain.held_out(*key, config.settings.holdout_percent)
    await repo.save_presences({key: domain.Presence(presence.last_engaged_at, True, since)})
    if await repo.add_silence(key, since, held_out):
        event = events.went_silent(
            *key,
            last_engaged_at=presence.last_engaged_at,
            silent_since=since,
            silent_after_days=days,
            held_out=held_out,
        )
        await add_events(session, [event])


async def rearm(session: AsyncSession, tenant_id: str, community_id: str) -> None:
    """Every waiting timer of the community, recomputed (its zone or settings moved)."""
    pending = await SilenceRepository(session).watched(tenant_id, community_id)
    signs = [Sign(community_id, member_id, "arrived", at) for member_id, at in pending]
    await apply(session, tenant_id, signs, rearm=True)
