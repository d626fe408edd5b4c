"""Lucky draws' use cases: functions taking the caller's session (one transaction per use
case, opened by the entry point; the draw timer's runner opens its own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from activities import events
from activities.access import is_member
from activities.challenges.repository import ChallengeRepository
from activities.draws import domain
from activities.draws.repository import DrawRepository
from activities.members.domain import may_take_part, tier_in
from activities.members.repository import MembersRepository
from activities.refusal import Refused
from servicekit import timers
from servicekit.auth import Principal
from servicekit.outbox import add_events
from servicekit.problems import Problem, not_found

DRAW_TIMER = "activities.draw.run"


def prize_of(data: dict[str, Any]) -> domain.Prize:
    return domain.Prize(
        name=data["name"],
        kind=domain.PrizeKind(data["kind"]),
        quantity=data["quantity"],
        weight=data["weight"],
        points=data.get("points"),
        item_id=data.get("item_id"),
    )


def prize_data(prize: domain.Prize) -> dict[str, Any]:
    return {
        "name": prize.name,
        "kind": prize.kind.value,
        "quantity": prize.quantity,
        "weight": prize.weight,
        "points": prize.points,
        "item_id": prize.item_id,
    }


def draw_of(row: Any) -> domain.Draw:
    return domain.Draw(
        prizes=tuple(prize_of(p) for p in row.prizes),
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        miss_weight=row.miss_weight,
        claim_days=row.claim_days,
        drawn_at=row.drawn_at,
    )


def eligibility_of(row: Any) -> domain.Eligibility:
    return domain.Eligibility(
        challenge=row.challenge_id is not None,
        min_level=row.min_level,
        tiers=None if row.tiers is None else frozenset(row.tiers),
    )


def refused(error: Refused) -> Problem:
    status = 403 if error.reason is domain.Refusal.NOT_ELIGIBLE else 409
    return Problem(status, error.reason.value, "Refused", error.detail)


@dataclass(frozen=True)
class Draft:
    community_id: str
    group_id: str | None
    challenge_id: str | None
    title: str
    draw: domain.Draw
    min_level: int | None = None
    tiers: list[str] | None = None


async def create(session: AsyncSession, principal: Principal, draft: Draft, now: datetime) -> Any:
    tenant_id = principal.tenant_id
    if await MembersRepository(session).community(tenant_id, draft.community_id) is None:
        raise Problem(404, "not-found", "Not Found", f"no such community: {draft.community_id}")
    if draft.challenge_id is not None:
        challenge = await ChallengeRepository(session).get(tenant_id, draft.challenge_id)
        if challenge is None:
            raise Problem(404, "not-found", "Not Found", f"no such challenge: {draft.challenge_id}")
        if challenge.community_id != draft.community_id:
            raise Problem(
                422, "invalid-draw", "Invalid draw", "the challenge is another community's"
            )
    if draft.draw.closes_at <= now:
        raise Problem(422, "invalid-draw", "Invalid draw", "closes_at must be in the future")
    draw = draft.draw
    draw_id = str(uuid.uuid4())
    seed = domain.new_seed()
    repo = DrawRepository(session)
    await repo.add(
        {
            "id": draw_id,
            "tenant_id": tenant_id,
            "community_id": draft.community_id,
            "group_id": draft.group_id,
            "challenge_id": draft.challenge_id,
            "min_level": draft.min_level,
            "tiers": None if draft.tiers is None else sorted(set(draft.tiers)),
            "title": draft.title,
            "prizes": [prize_data(p) for p in draw.prizes],
            "miss_weight": draw.miss_weight,
            "claim_days": draw.claim_days,
            "opens_at": draw.opens_at,
            "closes_at": draw.closes_at,
            "seed": seed,
            "seed_hash": domain.commitment(seed),
            "drawn_at": None,
            "entrants": 0,
            "redraws": 0,
            "created_by": principal.subject,
            "created_at": now,
        }
    )
    payload = {"tenant_id": tenant_id, "draw_id": draw_id}
    await timers.schedule(session, DRAW_TIMER, draw_id, draw.closes_at, payload)
    return await repo.get(tenant_id, draw_id)


async def readable(
    session: AsyncSession, principal: Principal, draw_id: str, *, lock: str | None = None
) -> Any:
    """The draw, for operators of its tenant and for members who may take part (its
    community, its group if it has one); to anyone else it does not exist (404)."""
    row = await DrawRepository(session).get(principal.tenant_id, draw_id, lock=lock)
    if row is None:
        raise not_found("draw")
    if is_member(principal):
        states = await MembersRepository(session).of_member(
            principal.tenant_id, principal.subject, row.community_id
        )
        if not may_take_part(states, row.community_id, row.group_id):
            raise not_found("draw")
    return row


async def listed(session: AsyncSession, principal: Principal) -> list[Any]:
    repo = DrawRepository(session)
    if not is_member(principal):
        return await repo.of_tenant(principal.tenant_id, None)
    seats = [
        s
        for s in await MembersRepository(session).seats(principal.tenant_id, principal.subject)
        if s.active
    ]
    rows = await repo.of_tenant(principal.tenant_id, sorted({s.community_id for s in seats}))
    return [r for r in rows if may_take_part(seats, r.community_id, r.group_id)]


async def enter(session: AsyncSession, principal: Principal, draw_id: str, now: datetime) -> None:
    """One entry per member (the primary key), in the window, if eligible. The draw row is
    read ``FOR SHARE``: no entry lands beside the draw."""
    row = await readable(session, principal, draw_id, lock="share")
    repo = DrawRepository(session)
    rule = eligibility_of(row)
    took_part, level, tier = False, 0, None
    if rule.challenge:
        standing = await ChallengeRepository(session).participant(
            row.tenant_id, row.challenge_id, principal.subject
        )
        took_part = standing is not None and standing.total > 0
    members = MembersRepository(session)
    if rule.min_level is not None:
        known = await members.level(row.tenant_id, principal.subject)
        level = 0 if known is None else known[0]
    if rule.tiers is not None:
        states = await members.of_member(row.tenant_id, principal.subject, row.community_id)
        tier = tier_in(states, row.community_id)
    why_not = rule.why_not(took_part=took_part, level=level, tier=tier)
    entered = await repo.entered(row.tenant_id, row.id, principal.subject)
    try:
        domain.check_entry(draw_of(row), why_not=why_not, entered=entered, now=now)
    except Refused as error:
        raise refused(error) from None
    entry = {
        "tenant_id": row.tenant_id,
        "draw_id": row.id,
        "member_id": principal.subject,
        "entered_at": now,
    }
    if not await repo.add_entry(entry):
        raise refused(Refused(domain.Refusal.ALREADY, "one entry per member"))


def _win_rows(
    row: Any, draw: domain.Draw, won: list[domain.Win], round_: int, at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": row.tenant_id,
            "draw_id": row.id,
            "member_id": win.member_id,
            "win_id": str(uuid.uuid4()),
            "prize": win.prize,
            "round": round_,
            "position": position,
            "won_at": at,
            "claim_by": draw.claim_by(at),
            "claimed_at": None,
            "given_back_at": None,
        }
        for position, win in enumerate(won)
    ]


async def run_draw(session: AsyncSession, tenant_id: str, draw_id: str, at: datetime) -> Any:
    """Draw once (the timer at the close, or an operator earlier): the winners from the
    committed seed and the entrants, the seed revealed, draw.drawn and each draw.won."""
    repo = DrawRepository(session)
    row = await repo.get(tenant_id, draw_id, lock="update")
    if row is None or row.drawn_at is not None:
        return row
    draw = draw_of(row)
    entrants = await repo.entrants(tenant_id, draw_id)
    won = domain.first_draw(row.seed, draw, entrants)
    wins = _win_rows(row, draw, won, 0, at)
    await repo.add_wins(wins)
    await repo.update(tenant_id, draw_id, drawn_at=at, entrants=len(entrants))
    drawn = [(w.member_id, w.prize) for w in won]
    await add_events(
        session,
        [
            events.draw_drawn(row, 0, row.seed, entrants, drawn, at),
            *(events.draw_won(row, win, at) for win in wins),
        ],
    )
    return await repo.get(tenant_id, draw_id)


async def draw_now(session: AsyncSession, principal: Principal, draw_id: str, now: datetime) -> Any:
    row = await readable(session, principal, draw_id)
    if row.drawn_at is not None:
        raise refused(Refused(domain.Refusal.DRAWN, "the draw is drawn already"))
    await timers.cancel(session, DRAW_TIMER, row.id)
    return await run_draw(session, principal.tenant_id, row.id, now)


async def draw_due(session: AsyncSession, timer: timers.Timer) -> None:
    """The draw timer, as of its due time (the close)."""
    payload = timer.payload
    await run_draw(session, str(payload["tenant_id"]), str(payload["draw_id"]), timer.due_at)


@dataclass(frozen=True)
class Result:
    row: Any
    entrants: list[str] | None  # published once drawn
    wins: list[Any]


async def result(session: AsyncSession, principal: Principal, draw_id: str) -> Result:
    row = await readable(session, principal, draw_id)
    if row.drawn_at is None:
        return Result(row, None, [])
    repo = DrawRepository(session)
    return Result(
        row, await repo.entrants(row.tenant_id, row.id), await repo.wins(row.tenant_id, row.id)
    )


async def claim(session: AsyncSession, principal: Principal, draw_id: str, now: datetime) -> Any:
    """The winner of a prize that is not points claims it before ``claim_by``."""
    row = await readable(session, principal, draw_id)
    repo = DrawRepository(session)
    win = await repo.win_of(row.tenant_id, row.id, principal.subject)
    if win is None or win.given_back_at is not None:
        raise refused(Refused(domain.Refusal.NOT_A_WINNER, "you won no prize here"))
    prize = prize_of(row.prizes[win.prize])
    try:
        domain.check_claim(prize, win.claim_by, win.claimed_at is not None, now)
    except Refused as error:
        raise refused(error) from None
    if not await repo.claim(row.tenant_id, win.win_id, now):
        raise refused(Refused(domain.Refusal.CLAIMED, "the prize is claimed already"))
    return await repo.win_of(row.tenant_id, row.id, principal.subject)


async def redraw(session: AsyncSession, principal: Principal, draw_id: str, now: datetime) -> Any:
    """Prizes whose winners did not claim them in time go to entrants who have not won,
    drawn from the seed derived for this round (``domain.redraw``)."""
    await readable(session, principal, draw_id)
    repo = DrawRepository(session)
    row = await repo.get(principal.tenant_id, draw_id, lock="update")
    draw = draw_of(row)
    wins = await repo.wins(row.tenant_id, row.id)
    lapsed = [
        w
        for w in wins
        if domain.lapsed(
            draw.prizes[w.prize],
            w.claim_by,
            w.claimed_at is not None,
            w.given_back_at is not None,
            now,
        )
    ]
    try:
        domain.check_redraw(draw, len(lapsed))
    except Refused as error:
        raise refused(error) from None
    round_ = row.redraws + 1
    entrants = await repo.entrants(row.tenant_id, row.id)
    won = domain.redraw(
        row.seed, round_, draw, entrants, {w.member_id for w in wins}, [w.prize for w in lapsed]
    )
    await repo.give_back(row.tenant_id, [w.win_id for w in lapsed], now)
    new_wins = _win_rows(row, draw, won, round_, now)
    await repo.add_wins(new_wins)
    await repo.update(row.tenant_id, row.id, redraws=round_)
    drawn = [(w.member_id, w.prize) for w in won]
    seed = domain.redraw_seed(row.seed, round_)
    await add_events(
        session,
        [
            events.draw_drawn(row, round_, seed, entrants, drawn, now, [w.prize for w in lapsed]),
            *(events.draw_won(row, win, now) for win in new_wins),
        ],
    )
    return await repo.get(row.tenant_id, row.id)
