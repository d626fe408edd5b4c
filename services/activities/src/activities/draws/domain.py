"""Lucky draws (抽奖): prizes with a quantity and a weight, one entry per member in the
entry window, winners drawn at the close from a seed committed before anyone entered.

Pure. The procedure (``winners``) uses nothing but the seed, the entrants and the prizes,
so anyone holding the revealed seed and the published entrant list recomputes the same
winners:

1. ``commitment(seed)`` = SHA-256 of the seed's text (hex), published when the draw is
   set up; the seed itself stays secret until the draw.
2. The entrants are the member ids sorted by code point (the published list's order).
3. Random numbers come from ``pick(seed, k, n)``: the SHA-256 of ``"{seed}:{k}"`` as a
   big-endian integer, modulo ``n``, for k = 0, 1, 2, ... (one k per number drawn).
4. The entrants are shuffled by Fisher-Yates: for i from the last index down to 1, swap
   entry i with entry ``pick(seed, k, i + 1)``.
5. In the shuffled order, while any prize is left, each entrant draws one prize among
   those left, by weight (``pick`` over the sum of the weights of the prizes left plus
   ``miss_weight``; the prizes in their listed order, then "no prize"). A prize's stock
   drops by one when drawn.

A redraw of unclaimed prizes (``redraw``) runs the same steps with the seed
``"{seed}/redraw-{round}"`` over the entrants who have not won, for the prizes given back.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from activities.refusal import Refused

MAX_PRIZES = 20
MAX_QUANTITY = 10_000
MAX_WEIGHT = 1_000_000
MAX_POINTS = 1_000_000


class PrizeKind(StrEnum):
    POINTS = "points"  # paid by rewards on draw.won
    MALL_ITEM = "mall_item"  # an item of the points mall, handed over by the operator
    OPERATOR = "operator"  # anything else the operator hands over


class InvalidDraw(ValueError):
    pass


class Refusal(StrEnum):
    NOT_OPEN = "draw-not-open"
    CLOSED = "draw-closed"
    ALREADY = "already-entered"
    NOT_ELIGIBLE = "not-eligible"
    NOT_DRAWN = "draw-not-drawn"
    DRAWN = "draw-drawn"
    NOT_A_WINNER = "not-a-winner"
    CLAIMED = "prize-claimed"
    CLAIM_EXPIRED = "claim-expired"
    NOTHING_TO_REDRAW = "nothing-to-redraw"


@dataclass(frozen=True)
class Prize:
    name: str
    kind: PrizeKind
    quantity: int
    weight: int = 1
    points: int | None = None  # kind points: how many each winner gets
    item_id: str | None = None  # kind mall_item: the mall's item

    def __post_init__(self) -> None:
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise InvalidDraw(f"a prize's quantity is 1..{MAX_QUANTITY}")
        if not 1 <= self.weight <= MAX_WEIGHT:
            raise InvalidDraw(f"a prize's weight is 1..{MAX_WEIGHT}")
        if self.kind is PrizeKind.POINTS:
            if self.points is None or not 1 <= self.points <= MAX_POINTS:
                raise InvalidDraw(f"a points prize names its points, 1..{MAX_POINTS}")
        elif self.points is not None:
            raise InvalidDraw("only a points prize has points")
        if self.kind is PrizeKind.MALL_ITEM and not self.item_id:
            raise InvalidDraw("a mall item prize names the item")


@dataclass(frozen=True)
class Draw:
    prizes: tuple[Prize, ...]
    opens_at: datetime
    closes_at: datetime  # entries until then; drawn at that time
    miss_weight: int = 0  # weight of "no prize" for each entrant's draw
    claim_days: int = 7  # winners of prizes that are not points claim them within
    drawn_at: datetime | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.prizes) <= MAX_PRIZES:
            raise InvalidDraw(f"a draw has 1..{MAX_PRIZES} prizes")
        if len({p.name.strip().casefold() for p in self.prizes}) != len(self.prizes):
            raise InvalidDraw("prize names must differ")
        if self.closes_at <= self.opens_at:
            raise InvalidDraw("closes_at must be after opens_at")
        if not 0 <= self.miss_weight <= MAX_WEIGHT:
            raise InvalidDraw(f"miss_weight is 0..{MAX_WEIGHT}")
        if not 1 <= self.claim_days <= 90:
            raise InvalidDraw("claim_days is 1..90")

    def claim_by(self, won_at: datetime) -> datetime:
        """Until when a prize won at ``won_at`` may be claimed (points need no claim)."""
        return won_at + timedelta(days=self.claim_days)


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    """What is published before the draw: SHA-256 of the seed's text, in hex."""
    return hashlib.sha256(seed.encode()).hexdigest()


@dataclass(frozen=True)
class Eligibility:
    """Who may enter besides being a member of the draw's community (or group)."""

    challenge: bool = False  # checked in at least once to the draw's challenge
    min_level: int | None = None  # rewards' level (a member never heard of: level 0)
    tiers: frozenset[str] | None = None  # the membership's tier is one of these

    def why_not(self, *, took_part: bool, level: int, tier: str | None) -> str | None:
        """None when the member may enter, else why not."""
        if self.challenge and not took_part:
            return "this draw is for those who checked in to its challenge"
        if self.min_level is not None and level < self.min_level:
            return f"this draw is for level {self.min_level} and above"
        if self.tiers is not None and tier not in self.tiers:
            return "this draw is for members of the tiers " + ", ".join(sorted(self.tiers))
        return None


def check_entry(draw: Draw, *, why_not: str | None, entered: bool, now: datetime) -> None:
    if now < draw.opens_at:
        raise Refused(Refusal.NOT_OPEN, "entries open at " + draw.opens_at.isoformat())
    if now >= draw.closes_at or draw.drawn_at is not None:
        raise Refused(Refusal.CLOSED, "entries are closed")
    if why_not is not None:
        raise Refused(Refusal.NOT_ELIGIBLE, why_not)
    if entered:
        raise Refused(Refusal.ALREADY, "one entry per member")


def pick(seed: str, k: int, n: int) -> int:
    """The k-th number drawn from the seed, in 0..n-1."""
    digest = hashlib.sha256(f"{seed}:{k}".encode()).digest()
    return int.from_bytes(digest, "big") % n


@dataclass(frozen=True)
class Win:
    member_id: str
    prize: int  # index into the draw's prizes


def winners(
    seed: str, entrants: Sequence[str], stock: Sequence[tuple[int, int]], miss_weight: int = 0
) -> list[Win]:
    """The winners, in the order drawn. ``stock``: (quantity left, weight) per prize, in
    the listed order. Reproducible from its arguments alone (see the module's steps)."""
    order = sorted(set(entrants))
    k = 0
    for i in range(len(order) - 1, 0, -1):
        j = pick(seed, k, i + 1)
        k += 1
        order[i], order[j] = order[j], order[i]
    left = [quantity for quantity, _ in stock]
    weights = [weight for _, weight in stock]
    won = []
    for member in order:
        if not any(left):
            break
        total = sum(w for w, q in zip(weights, left, strict=True) if q > 0) + miss_weight
        r = pick(seed, k, total)
        k += 1
        for index, (weight, quantity) in enumerate(zip(weights, left, strict=True)):
            if quantity == 0:
                continue
            if r < weight:
                left[index] -= 1
                won.append(Win(member, index))
                break
            r -= weight
    return won


def first_draw(seed: str, draw: Draw, entrants: Sequence[str]) -> list[Win]:
    stock = [(p.quantity, p.weight) for p in draw.prizes]
    return winners(seed, entrants, stock, draw.miss_weight)


def redraw_seed(seed: str, round_: int) -> str:
    return f"{seed}/redraw-{round_}"


def redraw(
    seed: str,
    round_: int,
    draw: Draw,
    entrants: Sequence[str],
    past_winners: set[str],
    given_back: Sequence[int],
) -> list[Win]:
    """Redraw ``given_back`` (prize indices of lapsed claims) among entrants who have not
    won (no "no prize" slot: each prize given back goes to someone while entrants last)."""
    stock = [(0, p.weight) for p in draw.prizes]
    for index in given_back:
        quantity, weight = stock[index]
        stock[index] = (quantity + 1, weight)
    others = [m for m in entrants if m not in past_winners]
    return winners(redraw_seed(seed, round_), others, stock, 0)


def check_claim(prize: Prize, claim_by: datetime, claimed: bool, now: datetime) -> None:
    if claimed or prize.kind is PrizeKind.POINTS:
        raise Refused(Refusal.CLAIMED, "the prize is claimed already (points are paid at once)")
    if now >= claim_by:
        raise Refused(Refusal.CLAIM_EXPIRED, "the time to claim the prize is over")


def lapsed(
    prize: Prize, claim_by: datetime, claimed: bool, given_back: bool, now: datetime
) -> bool:
    """A won prize nobody claimed in time, not redrawn yet."""
    return prize.kind is not PrizeKind.POINTS and not (claimed or given_back) and now >= claim_by


def check_redraw(draw: Draw, lapsed_count: int) -> None:
    if draw.drawn_at is None:
        raise Refused(Refusal.NOT_DRAWN, "the draw has not been drawn yet")
    if lapsed_count == 0:
        raise Refused(Refusal.NOTHING_TO_REDRAW, "no unclaimed prize whose time to claim is over")
