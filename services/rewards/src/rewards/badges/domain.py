"""Badges (勋章) and titles: rules over a member's events or level, kept as small progress.

A badge rule is data, like an earning rule: an event type (with the same conditions,
beneficiary path and community scope), a criterion and a threshold:

- ``count``: N qualifying events overall;
- ``within_days``: N qualifying events within a rolling X days (X × 24 h);
- ``streak``: N consecutive days with a qualifying event, local days of the rule's
  community (the tenant's for a rule over every community; ``rewards.zones``);
- ``level``: the member's level reached N (never repeatable).

A one-time badge is awarded once and its progress stops. A repeatable one starts over
after each award: ``count`` again every N further events, ``within_days`` after N more
events inside a window, ``streak`` every N further consecutive days (a 14-day streak
earns the 7-day badge twice; a broken streak starts again from one).

Progress is a few numbers per (member, rule), never a scan of history: a count, the
last day and the streak length, and for ``within_days`` the times of the events still
inside the window (fewer than N, so at most ``MAX_WINDOW_EVENTS``). Events are
expected in time order per member (the topics are keyed by member); a late event
older than the last day seen does not change a streak, one older than the window
does not count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from rewards.rules.domain import Condition, Op, lookup
from rewards.rules.sources import MEMBERSHIP_ACTIVATED
from rewards.zones.domain import local_day

MAX_COUNT = 100_000
MAX_WINDOW_EVENTS = 100  # bounds the stored times of a within_days rule
MAX_WINDOW_DAYS = 365
MAX_STREAK_DAYS = 3_660
MAX_LEVEL = 1_000


class Criterion(StrEnum):
    COUNT = "count"
    WITHIN_DAYS = "within_days"
    STREAK = "streak"
    LEVEL = "level"


_MAX_THRESHOLD = {
    Criterion.COUNT: MAX_COUNT,
    Criterion.WITHIN_DAYS: MAX_WINDOW_EVENTS,
    Criterion.STREAK: MAX_STREAK_DAYS,
    Criterion.LEVEL: MAX_LEVEL,
}


@dataclass(frozen=True)
class BadgeRule:
    rule_id: str
    name: str
    criterion: Criterion
    threshold: int  # events, days or the level, by criterion
    event_type: str | None = None  # None for level rules
    days: int | None = None  # the window of a within_days rule
    repeatable: bool = False
    description: str = ""
    title: str | None = None  # 头衔 the member holds with the badge, e.g. 首席分享官
    beneficiary: str = "member_id"  # path of the member in the event's data
    conditions: tuple[Condition, ...] = ()
    community_id: str | None = None  # None: events of every community count
    # Path that makes an occurrence count once: a membership activated again (trial →
    # paid) is still one referral. None: once per event.
    once_per: str | None = None

    def __post_init__(self) -> None:
        if not self.rule_id or not self.name:
            raise ValueError("a badge rule needs an id and a name")
        if not 1 <= self.threshold <= _MAX_THRESHOLD[self.criterion]:
            limit = _MAX_THRESHOLD[self.criterion]
            raise ValueError(f"threshold of a {self.criterion.value} rule must be 1..{limit}")
        if (self.criterion is Criterion.LEVEL) != (self.event_type is None):
            raise ValueError("level rules have no event_type; every other rule needs one")
        if self.criterion is Criterion.LEVEL and self.repeatable:
            raise ValueError("a level is reached once: level rules are not repeatable")
        if (self.criterion is Criterion.WITHIN_DAYS) != (self.days is not None):
            raise ValueError("days goes with within_days rules, and only with them")
        if self.days is not None and not 1 <= self.days <= MAX_WINDOW_DAYS:
            raise ValueError(f"days must be 1..{MAX_WINDOW_DAYS}")

    @property
    def by_event(self) -> bool:
        return self.criterion is not Criterion.LEVEL

    def member_for(self, event_type: str, data: dict[str, Any]) -> str | None:
        """The member an event counts for under this rule, or None when it does not count."""
        if not self.by_event or event_type != self.event_type:
            return None
        if self.community_id is not None and lookup(data, "community_id") != self.community_id:
            return None
        member = lookup(data, self.beneficiary)
        if not isinstance(member, str) or not member:
            return None
        if not all(condition.holds(data) for condition in self.conditions):
            return None
        return member

    def occurrence_key(self, event_id: str, data: dict[str, Any]) -> str:
        """What marks an occurrence as counted: redelivery and replay land on the same key."""
        if self.once_per is not None:
            value = lookup(data, self.once_per)
            if value is not None:
                return f"{self.rule_id}:{self.once_per}={value}"
        return f"{event_id}:{self.rule_id}"

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["criterion"] = self.criterion.value
        raw["conditions"] = [
            {"path": c.path, "op": c.op.value, "value": c.value} for c in self.conditions
        ]
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BadgeRule:
        """Parse a stored or submitted rule; raises ValueError (or TypeError) when malformed."""
        values = dict(raw)
        values["criterion"] = Criterion(values["criterion"])
        values["conditions"] = tuple(
            Condition(str(c["path"]), Op(c["op"]), c.get("value"))
            for c in values.get("conditions") or ()
        )
        return cls(**values)


@dataclass(frozen=True)
class Progress:
    """A member's progress on one rule: what the next award needs, and awards so far."""

    count: int = 0  # count: qualifying events since the last award
    streak: int = 0  # streak: consecutive days up to last_day, since the last award
    last_day: date | None = None  # streak: the last local day with a qualifying event
    recent: tuple[datetime, ...] = ()  # within_days: times inside the window, oldest first
    times: int = 0  # how often the badge was awarded
    last_awarded_at: datetime | None = None
    first_awarded_at: datetime | None = None

    def state(self) -> dict[str, Any]:
        """The part stored as JSON (times and award dates have their own columns)."""
        return {
            "count": self.count,
            "streak": self.streak,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "recent": [at.isoformat() for at in self.recent],
        }

    @classmethod
    def of(
        cls,
        state: dict[str, Any],
        times: int,
        first_awarded_at: datetime | None = None,
        last_awarded_at: datetime | None = None,
    ) -> Progress:
        last_day = state.get("last_day")
        return cls(
            count=int(state.get("count", 0)),
            streak=int(state.get("streak", 0)),
            last_day=date.fromisoformat(last_day) if last_day else None,
            recent=tuple(datetime.fromisoformat(at) for at in state.get("recent", ())),
            times=times,
            first_awarded_at=first_awarded_at,
            last_awarded_at=last_awarded_at,
        )


@dataclass(frozen=True)
class Step:
    progress: Progress
    awarded: bool = False


def observe(rule: BadgeRule, progress: Progress, at: datetime, tz: ZoneInfo) -> Step:
    """A qualifying event at ``at``: the progress after it, and whether it earned the badge.
    ``tz``: the zone of the rule's days (its community's, or the tenant's)."""
    if not rule.by_event or _done(rule, progress):
        return Step(progress)
    if rule.criterion is Criterion.COUNT:
        counted = replace(progress, count=progress.count + 1)
        if counted.count >= rule.threshold:
            return _award(replace(counted, count=0), at)
        return Step(counted)
    if rule.criterion is Criterion.STREAK:
        return _observe_streak(rule, progress, at, tz)
    return _observe_window(rule, progress, at)


def observe_level(rule: BadgeRule, progress: Progress, level: int, at: datetime) -> Step:
    """The member is at ``level`` now: a level rule awards once, the first time it is seen."""
    if rule.criterion is not Criterion.LEVEL or progress.times or level < rule.threshold:
        return Step(progress)
    return _award(progress, at)


def _done(rule: BadgeRule, progress: Progress) -> bool:
    return not rule.repeatable and progress.times > 0


def _award(progress: Progress, at: datetime) -> Step:
    return Step(
        replace(
            progress,
            times=progress.times + 1,
            first_awarded_at=progress.first_awarded_at or at,
            last_awarded_at=at,
        ),
        awarded=True,
    )


def _observe_streak(rule: BadgeRule, progress: Progress, at: datetime, tz: ZoneInfo) -> Step:
    day = local_day(at, tz)
    last = progress.last_day
    if last is not None and day <= last:
        return Step(progress)  # the same day again, or a late event: the streak stands
    streak = progress.streak + 1 if last == day - timedelta(days=1) else 1
    moved = replace(progress, streak=streak, last_day=day)
    if streak >= rule.threshold:
        return _award(replace(moved, streak=0), at)  # the next award needs N more days
    return Step(moved)


def _observe_window(rule: BadgeRule, progress: Progress, at: datetime) -> Step:
    assert rule.days is not None  # checked by the rule
    window = timedelta(days=rule.days)
    times = sorted((*progress.recent, at))
    newest = times[-1]
    if newest - at >= window:
        return Step(progress)  # too late to share a window with the newer ones
    inside = tuple(t for t in times if newest - t < window)
    if len(inside) >= rule.threshold:
        return _award(replace(progress, recent=()), at)
    return Step(replace(progress, recent=inside[-(rule.threshold - 1) :]))


@dataclass(frozen=True)
class Standing:
    """How far a member is towards the rule's next award, for display."""

    current: int
    target: int


def standing(
    rule: BadgeRule, progress: Progress, level: int, now: datetime, tz: ZoneInfo
) -> Standing:
    target = rule.threshold
    if _done(rule, progress):
        return Standing(target, target)
    if rule.criterion is Criterion.COUNT:
        return Standing(progress.count, target)
    if rule.criterion is Criterion.LEVEL:
        return Standing(min(level, target), target)
    if rule.criterion is Criterion.STREAK:
        yesterday = local_day(now, tz) - timedelta(days=1)
        alive = progress.last_day is not None and progress.last_day >= yesterday
        return Standing(progress.streak if alive else 0, target)
    assert rule.days is not None
    window = timedelta(days=rule.days)
    return Standing(sum(1 for t in progress.recent if now - t < window), target)


CHECKED_IN = "quanzi.activities.checkin.recorded.v1"
POST_APPROVED = "quanzi.content.post.approved.v1"
COMMENT_APPROVED = "quanzi.content.comment.approved.v1"
POST_SHARED = "quanzi.content.post.shared.v1"
CONTEST_AWARDED = "quanzi.activities.contest.awarded.v1"


def default_badge_rules() -> list[BadgeRule]:
    """What a new tenant starts with; operators rename, change or archive them. Rules on
    events of producers not built yet wait here, matched by type when they arrive."""
    return [
        BadgeRule(
            "welcome",
            "新人报到",
            Criterion.COUNT,
            1,
            MEMBERSHIP_ACTIVATED,
            description="加入社群",
            once_per="membership_id",
        ),
        BadgeRule(
            "referrals-5",
            "推荐达人",
            Criterion.COUNT,
            5,
            MEMBERSHIP_ACTIVATED,
            description="邀请 5 位新成员加入",
            title="推广大使",
            beneficiary="source.inviter_id",
            conditions=(Condition("source.inviter_id", Op.EXISTS),),
            once_per="membership_id",
        ),
        BadgeRule(
            "first-post",
            "初次发帖",
            Criterion.COUNT,
            1,
            POST_APPROVED,
            description="第一篇帖子通过审核",
            beneficiary="author_id",
        ),
        BadgeRule(
            "check-in-streak-7",
            "连续打卡7天",
            Criterion.STREAK,
            7,
            CHECKED_IN,
            repeatable=True,
            description="连续 7 天打卡,每满 7 天再得一次",
        ),
        BadgeRule(
            "helpful-answerer",
            "优质回答者",
            Criterion.WITHIN_DAYS,
            10,
            COMMENT_APPROVED,
            days=7,
            repeatable=True,
            description="7 天内 10 条回答通过审核",
            beneficiary="author_id",
        ),
        BadgeRule(
            "top-sharer",
            "分享达人",
            Criterion.COUNT,
            50,
            POST_SHARED,
            description="分享 50 次",
            title="首席分享官",
        ),
        BadgeRule(
            "level-5",
            "资深成员",
            Criterion.LEVEL,
            5,
            description="等级达到 Lv5",
            title="资深成员",
        ),
        # A contest's place the operator gave a badge (activities' contest.awarded names
        # it): counted once per awarded place, again for every later one.
        BadgeRule(
            "contest-winner",
            "评选获奖",
            Criterion.COUNT,
            1,
            CONTEST_AWARDED,
            repeatable=True,
            description="在社群评选中获得带徽章的名次",
            conditions=(Condition("badge", Op.EXISTS),),
            once_per="award_id",
        ),
    ]
