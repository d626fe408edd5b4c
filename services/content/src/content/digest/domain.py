"""The daily digest (日报): which of a community's posts of one local day make it, and the
local day and time it goes out. Pure: no I/O.

Engagement weighs what costs a member more: a like 1, a comment 2, a share 3, an
operator's recommendation (推荐) 5. Ties go to the newer post, then the id, so the same
day always compiles to the same digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from content.schedules.domain import Refused, to_utc

WEIGHTS = {"like": 1, "comment": 2, "share": 3, "recommended": 5}
TOP = 5  # posts in a digest
TITLE_CHARS = 40


@dataclass(frozen=True)
class Candidate:
    post_id: str
    title: str | None
    body: str
    created_at: datetime
    likes: int
    comments: int
    shares: int
    recommended: bool

    @property
    def score(self) -> int:
        return (
            self.likes * WEIGHTS["like"]
            + self.comments * WEIGHTS["comment"]
            + self.shares * WEIGHTS["share"]
            + (WEIGHTS["recommended"] if self.recommended else 0)
        )

    def headline(self) -> str:
        text = (
            (self.title or self.body).strip().splitlines()[0]
            if (self.title or self.body).strip()
            else ""
        )
        return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def rank(candidates: list[Candidate], top: int = TOP) -> list[Candidate]:
    """The ``top`` most engaged posts, best first; posts nobody engaged with are left out
    (a digest of silence helps no one)."""
    engaged = [c for c in candidates if c.score > 0]
    ordered = sorted(engaged, key=lambda c: (-c.score, -c.created_at.timestamp(), c.post_id))
    return ordered[:top]


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where the local ``day`` starts and the next one starts (23 or 25
    hours apart on DST days)."""
    try:
        following = day + timedelta(days=1)
    except OverflowError as error:
        raise Refused("time-out-of-range", "the day is out of range") from error
    start = to_utc(datetime.combine(day, time()), tz)
    return start, to_utc(datetime.combine(following, time()), tz)


def next_run(at: time, tz: ZoneInfo, after: datetime) -> tuple[date, datetime]:
    """The next local day whose digest time is after ``after``: (that day, its instant)."""
    day = after.astimezone(tz).date()
    for offset in range(3):
        candidate = day + timedelta(days=offset)
        instant = to_utc(datetime.combine(candidate, at), tz)
        if instant > after:
            return candidate, instant
    raise AssertionError("unreachable: a local day has one digest time")


def compose(day: date, picked: list[Candidate]) -> tuple[str, str]:
    """The digest post's title and markdown body."""
    title = f"日报 {day.isoformat()}"
    lines = [
        f"{i}. {c.headline()} (赞 {c.likes} · 评论 {c.comments} · 分享 {c.shares})"
        for i, c in enumerate(picked, 1)
    ]
    return title, "\n".join(lines)
