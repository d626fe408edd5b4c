"""The "top" order of a feed, pure: engagement weighted, with time decay.

The score is ``log10(1 + weighted engagement) + age bonus``, where the age bonus grows by
1 every ``DECAY`` of publication time: a post published ``DECAY`` earlier needs ten times
the engagement to rank level with a newer one. Because the bonus is tied to publication
time and not to "now", a post's score changes only when its engagement does: the order is
stable while a reader pages through it (keyset pages on ``(score, id)``), and the score
can be stored and indexed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DECAY = timedelta(hours=12)  # this much older needs 10× the engagement to rank level
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # keeps scores small; any fixed time would do


@dataclass(frozen=True)
class Weights:
    view: float = 0.2
    like: float = 1.0
    bookmark: float = 2.0
    comment: float = 3.0
    share: float = 4.0


WEIGHTS = Weights()


@dataclass(frozen=True)
class Engagement:
    views: int = 0
    likes: int = 0
    bookmarks: int = 0
    comments: int = 0
    shares: int = 0


def weighted(engagement: Engagement, weights: Weights = WEIGHTS) -> float:
    return (
        weights.view * max(engagement.views, 0)
        + weights.like * max(engagement.likes, 0)
        + weights.bookmark * max(engagement.bookmarks, 0)
        + weights.comment * max(engagement.comments, 0)
        + weights.share * max(engagement.shares, 0)
    )


def score(engagement: Engagement, published_at: datetime) -> float:
    age_bonus = (published_at - EPOCH) / DECAY
    return math.log10(1.0 + weighted(engagement)) + age_bonus
