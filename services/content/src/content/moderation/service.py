"""Use cases of auto-moderation: screening a member's post or comment against the tenant's
rules and flood limit (the write's hot path: the rules in one read, the limits in one, the
member's recent items in one only when a limit applies), and managing rules and limits.

A refused item is never half-written: screening raises ``Refused`` before the write; the
entry point's ``screened`` transaction rolls the write's transaction back and records the
``item.flagged`` event in a transaction of its own, then answers with the problem.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from content import events
from content.moderation import domain
from content.moderation.domain import Action, FloodLimit, Item, RuleKind
from content.moderation.repository import TENANT_SCOPE, ModerationRepository
from content.posts.repository import After, Row
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found


class Refused(Exception):
    """A blocked item: the problem to answer with and the event to record."""

    def __init__(self, problem: Problem, event: Event) -> None:
        super().__init__(problem.detail)
        self.problem = problem
        self.event = event


@asynccontextmanager
async def screened(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """``transaction`` for a write that screening may refuse: on ``Refused`` nothing of the
    write is kept, the event is committed alone, and the problem is raised."""
    try:
        async with transaction(sessions) as session:
            yield session
    except Refused as refused:
        async with transaction(sessions) as session:
            await add_event(session, refused.event)
        raise refused.problem from None


@dataclass(frozen=True)
class Target:
    """What is screened: a post (``post_id`` None until written) or a comment on a post."""

    kind: str  # post | comment
    tenant_id: str
    member_id: str
    community_id: str
    post_id: str | None = None  # the post a comment is on


@dataclass(frozen=True)
class Flag:
    """The rule that held an item (stored on it, named in the review queue)."""

    rule_id: str | None  # null for flood control
    kind: str  # keyword | link | flood
    pattern: str
    action: Action
    strike: bool

    def json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "kind": self.kind,
            "pattern": self.pattern,
            "action": self.action.value,
        }

    def event(self, target: Target, target_id: str | None, at: datetime) -> Event:
        return events.item_flagged(
            target.tenant_id,
            target.member_id,
            target.community_id,
            target_kind=target.kind,
            target_id=target_id,
            post_id=target.post_id,
            flag=self.json(),
            strike=self.strike,
            at=at,
        )


def _rule_flag(verdict: domain.Verdict) -> Flag:
    rule = verdict.rule
    assert rule is not None
    return Flag(rule.id, rule.kind.value, rule.label, verdict.action, rule.strike)


def _flood_flag(limit: FloodLimit) -> Flag:
    return Flag(None, "flood", limit.label, limit.action, limit.strike)


def limit_of(row: Row | None) -> FloodLimit | None:
    if row is None or row.max_items is None or row.window_seconds is None:
        return None
    return FloodLimit(
        row.max_items, timedelta(seconds=row.window_seconds), Action(row.action), row.strike
    )


def effective_limit(rows: dict[str, Row], community_id: str) -> FloodLimit | None:
    """The community's own row wins (a row without a limit turns flood control off there);
    else the tenant's default."""
    if community_id in rows:
        return limit_of(rows[community_id])
    return limit_of(rows.get(TENANT_SCOPE))


async def screen(session: AsyncSession, target: Target, item: Item, now: datetime) -> Flag | None:
    """The flag to hold the item with, None to let it through; ``Refused`` to block it."""
    repo = ModerationRepository(session)
    verdict = domain.verdict(await repo.rules(target.tenant_id), item)
    if verdict.blocked:
        flag = _rule_flag(verdict)
        raise Refused(_blocked(flag, target), flag.event(target, None, now))
    limits = await repo.limits(target.tenant_id, target.community_id)
    limit = effective_limit(limits, target.community_id)
    if limit is not None:
        recent = await repo.recent_items(
            target.tenant_id,
            target.member_id,
            target.community_id,
            now - limit.window,
            limit.max_items,
        )
        until = domain.flooded_until(recent, limit, now)
        if until is not None:
            flag = _flood_flag(limit)
            if limit.action is Action.BLOCK:
                raise Refused(_flooded(limit, until, now), flag.event(target, None, now))
            if not verdict.held:
                return flag
    return _rule_flag(verdict) if verdict.held else None


def _blocked(flag: Flag, target: Target) -> Problem:
    return Problem(
        422,
        "content-blocked",
        "Content blocked",
        f"the {flag.kind} rule «{flag.pattern}» does not allow this {target.kind}",
        rule_id=flag.rule_id,
        rule_kind=flag.kind,
        rule_pattern=flag.pattern,
    )


def _flooded(limit: FloodLimit, until: datetime, now: datetime) -> Problem:
    wait = domain.retry_after_seconds(until, now)
    window = int(limit.window.total_seconds())
    return Problem(
        429,
        "flood",
        "Posting too fast",
        f"at most {limit.max_items} posts and comments in {window} s in this community "
        f"(刷屏); try again in {wait} s",
        headers={"Retry-After": str(wait)},
        rule_id=None,
        rule_kind="flood",
        rule_pattern=limit.label,
        retry_after=wait,
    )


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleDraft:
    kind: RuleKind
    pattern: str
    action: Action
    strike: bool
    note: str | None


def _pattern(kind: RuleKind, pattern: str) -> str:
    try:
        return domain.pattern_form(kind, pattern)
    except domain.InvalidPattern as error:
        raise Problem(422, "pattern-invalid", "Invalid pattern", str(error)) from error


def _exists(row: Row) -> Problem:
    return Problem(
        409,
        "rule-exists",
        "Rule exists",
        f"the {row.kind} rule «{row.written}» has the same pattern",
        rule_id=row.id,
    )


async def create_rule(
    session: AsyncSession, principal: Principal, draft: RuleDraft, now: datetime
) -> Row:
    pattern = _pattern(draft.kind, draft.pattern)
    repo = ModerationRepository(session)
    if await repo.count_rules(principal.tenant_id) >= domain.MAX_RULES:
        raise Problem(
            422, "too-many-rules", "Too many rules", f"at most {domain.MAX_RULES} per tenant"
        )
    rule_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": rule_id,
        "tenant_id": principal.tenant_id,
        "kind": draft.kind.value,
        "pattern": pattern,
        "written": draft.pattern.strip(),
        "action": draft.action.value,
        "strike": draft.strike,
        "note": draft.note,
        "created_by": principal.subject,
        "created_at": now,
        "updated_at": now,
    }
    if not await repo.add_rule(values):
        found = await repo.rule_by_pattern(principal.tenant_id, draft.kind.value, pattern)
        assert found is not None
        raise _exists(found)
    row = await repo.rule(principal.tenant_id, rule_id)
    assert row is not None
    return row


async def get_rule(session: AsyncSession, principal: Principal, rule_id: str) -> Row:
    row = await ModerationRepository(session).rule(principal.tenant_id, rule_id)
    if row is None:
        raise not_found("rule")
    return row


@dataclass(frozen=True)
class RulePatch:
    pattern: str | None = None
    action: Action | None = None
    strike: bool | None = None
    note: str | None = None
    clear_note: bool = False


async def edit_rule(
    session: AsyncSession, principal: Principal, rule_id: str, patch: RulePatch, now: datetime
) -> Row:
    repo = ModerationRepository(session)
    row = await repo.rule(principal.tenant_id, rule_id, lock=True)
    if row is None:
        raise not_found("rule")
    values: dict[str, Any] = {"updated_at": now}
    if patch.pattern is not None:
        pattern = _pattern(RuleKind(row.kind), patch.pattern)
        clash = await repo.rule_by_pattern(principal.tenant_id, row.kind, pattern)
        if clash is not None and clash.id != row.id:
            raise _exists(clash)
        values |= {"pattern": pattern, "written": patch.pattern.strip()}
    if patch.action is not None:
        values["action"] = patch.action.value
    if patch.strike is not None:
        values["strike"] = patch.strike
    if patch.note is not None or patch.clear_note:
        values["note"] = patch.note
    await repo.update_rule(row.id, values)
    after = await repo.rule(principal.tenant_id, row.id)
    assert after is not None
    return after


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: str) -> None:
    if not await ModerationRepository(session).delete_rule(principal.tenant_id, rule_id):
        raise not_found("rule")


async def rules_page(
    session: AsyncSession,
    principal: Principal,
    kind: RuleKind | None,
    action: Action | None,
    after: After,
    limit: int,
) -> Sequence[Row]:
    return await ModerationRepository(session).rules_page(
        principal.tenant_id,
        kind.value if kind else None,
        action.value if action else None,
        after,
        limit,
    )


# ---------------------------------------------------------------- flood limits


@dataclass(frozen=True)
class LimitDraft:
    max_items: int | None  # None: off (for a community: off there, whatever the default)
    window_seconds: int | None
    action: Action
    strike: bool


async def save_limit(
    session: AsyncSession, principal: Principal, scope: str, draft: LimitDraft, now: datetime
) -> Row:
    values = {
        "max_items": draft.max_items,
        "window_seconds": draft.window_seconds if draft.max_items is not None else None,
        "action": draft.action.value,
        "strike": draft.strike,
        "updated_by": principal.subject,
        "updated_at": now,
    }
    repo = ModerationRepository(session)
    await repo.save_limit(principal.tenant_id, scope, values)
    row = await repo.limit(principal.tenant_id, scope)
    assert row is not None
    return row
