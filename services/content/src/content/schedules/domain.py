"""Scheduled posts: when a post goes out, and what may still change before then.

A publish time is stored in UTC. Operators may give it with an offset (an instant), or
as a wall-clock time in the community's IANA zone: 07:30 in Asia/Shanghai is 07:30
there whatever the server's zone. Wall-clock times that DST skips or repeats resolve
the way ``zoneinfo`` does with ``fold=0``: a skipped time (02:30 on 2026-03-08 in New
York) lands as many minutes after the gap as it was into it (03:30 EDT), a repeated
one (01:30 on 2026-11-01) is its first occurrence (EDT).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_AHEAD = timedelta(days=366)  # a year and a day: the yearly post can be queued


class State(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    FAILED = "failed"  # its audience was gone when it was due (the reason is kept)


class Refused(Exception):
    """A broken scheduling rule: ``slug`` names it for the 4xx problem."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


def to_utc(when: datetime, tz: ZoneInfo | None) -> datetime:
    """An instant for ``when``: as given when it has an offset, else a wall-clock time in
    ``tz`` (fold 0: see the module). Without an offset or a zone it is refused."""
    try:
        if when.tzinfo is not None and when.utcoffset() is not None:
            return when.astimezone(UTC)
        if tz is None:
            raise Refused(
                "timezone-unknown",
                "give publish_at with an offset: the audience has no single known time zone",
            )
        return when.replace(tzinfo=tz, fold=0).astimezone(UTC)
    except OverflowError as error:  # year 1 or 9999 with an offset: not a time we keep
        raise Refused("time-out-of-range", "the time is out of range") from error


def check_publish_at(at: datetime, now: datetime) -> None:
    """A post is scheduled for the future, at most ``MAX_AHEAD`` from now."""
    if at <= now:
        raise Refused("publish-at-past", "publish_at must be in the future")
    if at > now + MAX_AHEAD:
        raise Refused("publish-at-too-far", f"publish_at must be within {MAX_AHEAD.days} days")


def check_pending(state: State) -> None:
    """Only a post not yet out may be cancelled or moved."""
    if state is not State.SCHEDULED:
        raise Refused("schedule-not-pending", f"the schedule is {state.value}")


def publishes(state: State) -> bool:
    """Does a fired timer publish? Only a schedule still pending: a cancelled one has no
    timer, a moved one's timer moved with it, and a published one was done by another
    runner (the state changes with a conditional update, so only one of them wins)."""
    return state is State.SCHEDULED
