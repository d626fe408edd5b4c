"""Point drops (红包): an operator drops X points for the first N members to claim, split
equally or at random (拼手气) with a minimum per share, until the drop expires and what is
left goes back.

Pure. The shares are decided when the drop is made (``shares``), so the claims only hand
them out in order: the n-th claimer gets share n, and the shares sum to X exactly. The
random split is reproducible from the drop's seed (``pick`` as in draws: SHA-256 of
``"{seed}:{k}"`` modulo n): each share but the last is the minimum plus a number drawn in
0..2 × (what is left above the minimums) / (shares left) (the "double mean" rule, so every
share's expectation is equal), and the last takes the rest.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from activities.refusal import Refused

MAX_SLOTS = 1000
MAX_TOTAL = 1_000_000
MAX_MINUTES = 7 * 24 * 60


class Split(StrEnum):
    EQUAL = "equal"
    RANDOM = "random"  # 拼手气


class InvalidDrop(ValueError):
    pass


class Refusal(StrEnum):
    EXPIRED = "drop-expired"
    EMPTY = "drop-empty"
    ALREADY = "already-claimed"


@dataclass(frozen=True)
class Drop:
    total: int
    slots: int  # N: the first N claimers get a share
    split: Split
    min_points: int
    expires_at: datetime
    expired_at: datetime | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= MAX_SLOTS:
            raise InvalidDrop(f"a drop has 1..{MAX_SLOTS} shares")
        if not 1 <= self.total <= MAX_TOTAL:
            raise InvalidDrop(f"a drop holds 1..{MAX_TOTAL} points")
        if self.min_points < 1:
            raise InvalidDrop("each share is at least 1 point")
        if self.slots * self.min_points > self.total:
            raise InvalidDrop("the total cannot give every share its minimum")

    def is_over(self, now: datetime) -> bool:
        return self.expired_at is not None or now >= self.expires_at


def expiry(now: datetime, minutes: int) -> datetime:
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidDrop(f"a drop lasts 1..{MAX_MINUTES} minutes")
    return now + timedelta(minutes=minutes)


def new_seed() -> str:
    return secrets.token_hex(16)


def pick(seed: str, k: int, n: int) -> int:
    digest = hashlib.sha256(f"{seed}:{k}".encode()).digest()
    return int.from_bytes(digest, "big") % n


def shares(drop: Drop, seed: str) -> list[int]:
    """Each claimer's share, in claim order: ``slots`` numbers, each at least
    ``min_points``, summing to ``total`` exactly."""
    if drop.split is Split.EQUAL:
        base, extra = divmod(drop.total, drop.slots)
        return [base + (1 if i < extra else 0) for i in range(drop.slots)]
    above = drop.total - drop.slots * drop.min_points
    found = []
    for i in range(drop.slots - 1):
        cap = 2 * above // (drop.slots - i)
        share = pick(seed, i, cap + 1) if cap > 0 else 0
        found.append(drop.min_points + share)
        above -= share
    found.append(drop.min_points + above)
    return found


def check_claim(drop: Drop, *, claimed_before: bool, claimed: int, now: datetime) -> None:
    if drop.is_over(now):
        raise Refused(Refusal.EXPIRED, "the drop has expired")
    if claimed_before:
        raise Refused(Refusal.ALREADY, "one share per member")
    if claimed >= drop.slots:
        raise Refused(Refusal.EMPTY, "every share has been claimed")


def returned(total: int, claimed_points: int) -> int:
    """What goes back to the sender when the drop expires."""
    return total - claimed_points
