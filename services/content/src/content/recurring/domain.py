"""Recurring posts (早安 at 07:30, 晚安 at 22:00, a weekly theme): an RFC 5545 RRULE read in
a community's wall clock. Pure: no I/O.

The rule runs over naive local date-times from a local ``start`` (python-dateutil's
``rrule``); each occurrence becomes an instant with ``to_utc`` (fold 0). So 07:30 stays
07:30 in New York across 2026-03-08 and 2026-11-01, while the UTC times move by an
hour; an occurrence DST skips (02:30 on the spring day) goes out at 03:30, one DST
repeats (01:30 on the autumn day) goes out once, at the first 01:30.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from content.schedules.domain import Refused, to_utc

MAX_RULE = 500
# Several instants may share one local time only on a DST repeat; a few tries suffice.
_MAX_TRIES = 4


START_WINDOW = timedelta(days=366)  # rrule walks from its start: keep that walk short


def check_start(start: datetime, now: datetime) -> None:
    """The wall-clock start is within a year of now (read loosely: zones differ by < 1 day)."""
    today = now.astimezone(UTC).replace(tzinfo=None)
    if start.tzinfo is None and abs(start - today) > START_WINDOW:
        raise Refused("start-out-of-range", "start within a year of today")


def parse_rule(rule: str, start: datetime) -> rrule:
    """The rule from ``FREQ=…`` text (an optional ``RRULE:`` prefix), starting at the naive
    local ``start``. Refused: malformed, a set of rules, more often than hourly."""
    text = rule.strip()
    if not text or len(text) > MAX_RULE or "\n" in text or "DTSTART" in text.upper():
        raise Refused("rrule-invalid", "give one RRULE (FREQ=…), without DTSTART")
    if start.tzinfo is not None:
        raise Refused("rrule-invalid", "the start is a wall-clock time, without an offset")
    try:
        parsed = rrulestr(text, dtstart=start)
    except (ValueError, TypeError) as error:
        raise Refused("rrule-invalid", f"not an RRULE: {error}") from error
    if not isinstance(parsed, rrule):
        raise Refused("rrule-invalid", "give one RRULE")
    if re.search(r"FREQ=(MINUTELY|SECONDLY)\b", text.upper()):  # a feed is not a clock
        raise Refused("rrule-too-frequent", "a recurring post goes out at most hourly")
    return parsed


def next_occurrence(rule: rrule, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first occurrence strictly after the instant ``after``, in UTC; None when the
    rule has ended (COUNT, UNTIL)."""
    local = after.astimezone(tz).replace(tzinfo=None)
    for _ in range(_MAX_TRIES):
        found = rule.after(local, inc=False)
        if found is None:
            return None
        at = to_utc(found, tz)
        if at > after:
            return at
        local = found  # a repeated hour read as its first instant: look further
    return None


def occurrences(rule: rrule, tz: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` occurrences after ``after`` (an operator's preview)."""
    found: list[datetime] = []
    at: datetime | None = after.astimezone(UTC)
    while at is not None and len(found) < count:
        at = next_occurrence(rule, tz, at)
        if at is not None:
            found.append(at)
    return found


def by_zone(zones: dict[str, str | None]) -> dict[str, list[str]]:
    """Communities grouped by their zone (community → zone in, zone → communities out):
    one post per zone and occurrence, each to every community of that zone. A community
    without a known zone has no wall clock to read a rule in: refused."""
    unknown = sorted(c for c, zone in zones.items() if not zone)
    if unknown:
        raise Refused("timezone-unknown", f"no time zone known for community {', '.join(unknown)}")
    grouped: dict[str, list[str]] = {}
    for community, zone in sorted(zones.items()):
        grouped.setdefault(str(zone), []).append(community)
    return grouped


def resume_after(occurrence: datetime, now: datetime) -> datetime:
    """Where the next occurrence is looked for after one went out: after it, or after now
    when it went out late (a service down for a day publishes the missed occurrence
    once, not a burst of them)."""
    return max(occurrence, now)
