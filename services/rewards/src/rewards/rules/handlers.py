"""The earning consumer: a tenant's active rules for the event's type decide what is
credited (the credit path: ``apply_rules_many``).

Runs inside the transaction its runner owns. Every credit goes the way of every wallet
change: lock and load the wallet with the lots it needs, let the domain decide, then
write the entries, the lots, the wallet (conditional on its version) and the events in
that same transaction (``rewards.points.ledger``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from rewards.badges import service as badges
from rewards.points.domain import FORFEITED, Credit, MembershipOutcome, landing
from rewards.points.ledger import Ledger, OpenWallet
from rewards.points.repository import PointsRepository
from rewards.points.service import settle_memberships
from rewards.rules.domain import Award, Caps, EarningRule, Periods, capped, earned_so_far, lookup
from rewards.rules.repository import RuleRepository
from rewards.rules.service import set_up_tenant
from rewards.rules.sources import MEMBERSHIP_CAUSE, membership_of, paid_trial_window, starts_trial
from rewards.zones.domain import Zones
from servicekit.events import Event


async def apply_rules(session: AsyncSession, event: Event) -> None:
    """Table-driven: every active rule of the tenant for the event's type, each at most once."""
    await apply_rules_many(session, [event])


async def apply_rules_many(session: AsyncSession, batch: Sequence[Event]) -> None:
    """``apply_rules`` for a whole consumer batch (``servicekit.consumer.Batched``): the
    same credits and events as one event at a time, in a few statements per tenant."""
    ledger = Ledger(session)
    by_tenant: dict[str, list[Event]] = {}
    for event in batch:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    credited: dict[str, list[str]] = {}
    for tenant_id, tenant_events in by_tenant.items():  # wallets never span tenants
        credited[tenant_id] = await _apply_tenant_rules(ledger, tenant_id, tenant_events)
    await ledger.flush()
    for tenant_id, tenant_events in by_tenant.items():
        await _settle_paid_trials(session, tenant_id, tenant_events)
    for tenant_id, tenant_events in by_tenant.items():  # the same events, and levels now
        await badges.evaluate(session, tenant_id, tenant_events, credited[tenant_id])


async def _settle_paid_trials(
    session: AsyncSession, tenant_id: str, batch: Sequence[Event]
) -> None:
    """A trial member paid: the trial's held points wait for that payment's refund window
    (statements only for batches holding such an activation)."""
    news: dict[str, MembershipOutcome] = {}
    for event in batch:
        window = paid_trial_window(event.type, event.data)
        membership_id = lookup(event.data, MEMBERSHIP_CAUSE)
        if window is not None and membership_id is not None:
            news[str(membership_id)] = MembershipOutcome(paid_window_ends_at=window)
    if news:
        await settle_memberships(session, tenant_id, news, "trial paid")


@dataclass(frozen=True)
class _Candidate:
    event: Event
    rule: EarningRule
    award: Award
    key: str
    tz: ZoneInfo  # whose days the caps count in


async def _apply_tenant_rules(ledger: Ledger, tenant_id: str, batch: Sequence[Event]) -> list[str]:
    """Returns the members the rules credit (their level may have changed)."""
    await set_up_tenant(ledger.session, tenant_id)
    zones = await ledger.zones(tenant_id)  # cached: no statement per credit
    candidates = await _candidates(
        RuleRepository(ledger.session), ledger.repo, tenant_id, batch, zones
    )
    if not candidates:
        return []
    members = list(dict.fromkeys(c.award.member_id for c in candidates))
    wallets = await ledger.open_many(tenant_id, members)
    earned = await _earned(ledger.repo, candidates, wallets)
    scheme = await ledger.scheme(tenant_id)
    for candidate in candidates:  # in event order, rules in id order, as one by one
        opened = wallets[candidate.award.member_id]
        so_far = earned.setdefault((opened.row.id, candidate.rule.rule_id), [])
        # The level as of this credit (earlier credits of the batch count), under the
        # tenant's current thresholds; multipliers apply before caps.
        level = scheme.level_of(opened.wallet.lifetime)
        boosted = candidate.rule.boosted(candidate.award.points, level, candidate.event.data)
        so_far_now = earned_so_far(so_far, candidate.event.time, candidate.tz)
        points = capped(boosted, candidate.rule.caps, so_far_now)
        if points == 0:
            continue
        so_far.append((candidate.event.time, points))
        await ledger.record(opened, opened.wallet.credit(_credit(candidate, points)))
    return members


async def _candidates(
    rule_repo: RuleRepository,
    points: PointsRepository,
    tenant_id: str,
    batch: Sequence[Event],
    zones: Zones,
) -> list[_Candidate]:
    """What each event's rules award, less what an earlier delivery already credited."""
    types = dict.fromkeys(e.type for e in batch)
    rules = {t: await rule_repo.active_rules(tenant_id, t) for t in types}
    found = []
    for event in batch:
        for rule in rules[event.type]:
            award = rule.award(event.type, event.data, event.time, zones)
            if award is not None:
                key = rule.award_key(event.id, event.data)
                tz = zones.of(rule.day_scope(event.data))
                found.append(_Candidate(event, rule, award, key, tz))
    unique: dict[str, _Candidate] = {}
    for candidate in found:  # the consumer never repeats an event in a batch; still
        unique.setdefault(candidate.key, candidate)
    memberships = {
        key: m for key, c in unique.items() if (m := membership_of(c.rule, c.event.data))
    }
    done, outcomes = await points.keys_and_outcomes(
        tenant_id, list(unique), sorted(set(memberships.values()))
    )
    kept = []
    for key, candidate in unique.items():
        if key in done:
            continue
        if key in memberships:  # points tied to a membership: held, forfeited or as ruled
            outcome = outcomes.get(memberships[key], MembershipOutcome())
            trial = starts_trial(candidate.event.type, candidate.event.data)
            lands = landing(outcome, trial=trial, available_at=candidate.award.available_at)
            if lands is FORFEITED:
                continue
            candidate = replace(candidate, award=replace(candidate.award, available_at=lands))
        kept.append(candidate)
    return kept


async def _earned(
    repo: PointsRepository, candidates: Sequence[_Candidate], wallets: dict[str, OpenWallet]
) -> dict[tuple[int, str], list[tuple[datetime, int]]]:
    """(wallet, rule) → earlier earnings the caps count, for every capped candidate."""
    capped_rules = {c.rule.rule_id for c in candidates if c.rule.caps != Caps()}
    if not capped_rules:
        return {}
    since = min(
        min(p.week, p.month) for p in (Periods.containing(c.event.time, c.tz) for c in candidates)
    )
    rows = await repo.earned_since(
        [w.row.id for w in wallets.values()], sorted(capped_rules), since
    )
    found: dict[tuple[int, str], list[tuple[datetime, int]]] = {}
    for wallet_id, rule_id, at, points in rows:
        found.setdefault((wallet_id, rule_id), []).append((at, points))
    return found


def _credit(candidate: _Candidate, points: int) -> Credit:
    award = candidate.award
    return Credit(
        key=candidate.key,
        lot_id=str(uuid.uuid4()),
        points=points,
        at=candidate.event.time,
        available_at=award.available_at,
        expires_at=award.expires_at,
        cause=award.cause,
        community_id=award.community_id,
        rule_id=award.rule_id,
        rule_version=award.rule_version,
    )
