"""Queries of campaign reviews: each kind's own tables, read only, as facts of the funnel.

Every query is bound to the tenant; an activity's facts are read by its id within it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.contests.repository import ContestRepository
from activities.members.domain import Status, zone
from activities.members.repository import MembersRepository
from activities.orm import (
    challenges,
    checkins,
    contest_awards,
    contests,
    draw_entries,
    draw_wins,
    draws,
    drop_claims,
    drops,
    meetup_registrations,
    meetups,
    memberships,
    participants,
    poll_votes,
    polls,
    quiz_attempts,
    quizzes,
    referral_campaigns,
    referral_joins,
    referral_progress,
    talk_attendance,
    talk_questions,
    talk_votes,
    talks,
)
from activities.reviews.domain import (
    ChannelRow,
    Fact,
    Invited,
    Kind,
    Points,
    Stage,
    in_audience,
    meetup_stage,
    referral_stage,
    talk_stage,
)
from activities.reviews.domain import channels as channel_rows

TABLES: Mapping[Kind, sa.Table] = {
    Kind.CHALLENGE: challenges,
    Kind.QUIZ: quizzes,
    Kind.POLL: polls,
    Kind.DRAW: draws,
    Kind.DROP: drops,
    Kind.TALK: talks,
    Kind.MEETUP: meetups,
    Kind.REFERRAL: referral_campaigns,
    Kind.CONTEST: contests,
}
# The column of each kind's start (a challenge starts at its first local day's midnight).
STARTS: Mapping[Kind, str] = {
    Kind.QUIZ: "opens_at",
    Kind.POLL: "created_at",
    Kind.DRAW: "opens_at",
    Kind.DROP: "created_at",
    Kind.TALK: "starts_at",
    Kind.MEETUP: "opens_at",
    Kind.REFERRAL: "starts_at",
    Kind.CONTEST: "starts_at",
}


def aware(value: Any) -> datetime:
    """UtcDateTime columns come back aware; keep any naive one (SQLite) in UTC."""
    at: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _maybe(at: Any) -> datetime | None:
    return None if at is None else aware(at)


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _all(self, query: Any) -> list[Any]:
        return list((await self.session.execute(query)).all())

    async def activity(self, kind: Kind, tenant_id: str, activity_id: str) -> Any:
        table = TABLES[kind]
        query = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == activity_id)
        return (await self.session.execute(query)).first()

    async def previous(self, kind: Kind, row: Any) -> Any:
        """The activity of the kind set up just before ``row`` in the same scope: its
        community (tenant-wide for a contest without one) and group."""
        table = TABLES[kind]
        query = sa.select(table).where(
            table.c.tenant_id == row.tenant_id,
            sa.or_(
                table.c.created_at < row.created_at,
                sa.and_(table.c.created_at == row.created_at, table.c.id < row.id),
            ),
        )
        for name in ("community_id", "group_id"):
            if name in table.c:
                value = getattr(row, name)
                column = table.c[name]
                query = query.where(column.is_(None) if value is None else column == value)
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(1)
        return (await self.session.execute(query)).first()

    async def start(self, kind: Kind, row: Any) -> datetime:
        if kind is not Kind.CHALLENGE:
            return aware(getattr(row, STARTS[kind]))
        known = await MembersRepository(self.session).community(row.tenant_id, row.community_id)
        tz = zone(known[0] if known else None)
        return datetime.combine(row.start_date, time(0), tzinfo=tz).astimezone(UTC)

    async def audience(self, kind: Kind, row: Any, start: datetime) -> list[Fact]:
        """Reached: the memberships of the scope that were active at ``start``."""
        query = sa.select(
            memberships.c.member_id,
            memberships.c.community_id,
            memberships.c.status,
            memberships.c.status_at,
            memberships.c.placed_at,
        ).where(memberships.c.tenant_id == row.tenant_id)
        if row.community_id is not None:
            query = query.where(memberships.c.community_id == row.community_id)
        if getattr(row, "group_id", None) is not None:
            query = query.where(memberships.c.group_id == row.group_id)
        return [
            Fact(str(m), Stage.REACHED, str(c))
            for m, c, status, at, placed in await self._all(query)
            if in_audience(status == Status.ACTIVE, _maybe(at), _maybe(placed), start)
        ]

    async def facts(self, kind: Kind, row: Any) -> list[Fact]:
        """The members' stages past "reached", in the activity's community."""
        found = await _FACTS[kind](self, row)
        if kind is Kind.CONTEST and row.community_id is None:
            return await self._placed(row.tenant_id, found)
        return [Fact(member, stage, row.community_id) for member, stage in found]

    async def _placed(self, tenant_id: str, found: list[tuple[str, Stage]]) -> list[Fact]:
        """A tenant-wide contest's facts, in each community the member belongs to (the
        total counts each member once; a member no community knows is in it only)."""
        members = sorted({member for member, _ in found})
        query = sa.select(memberships.c.member_id, memberships.c.community_id).where(
            memberships.c.tenant_id == tenant_id, memberships.c.member_id.in_(members)
        )
        seats: dict[str, set[str]] = {}
        for member, community in await self._all(query):
            seats.setdefault(str(member), set()).add(str(community))
        facts = []
        for member, stage in found:
            facts.append(Fact(member, stage))
            facts.extend(Fact(member, stage, c) for c in sorted(seats.get(member, ())))
        return facts

    async def _challenge(self, row: Any) -> list[tuple[str, Stage]]:
        took = (
            sa.select(checkins.c.member_id)
            .distinct()
            .where(checkins.c.tenant_id == row.tenant_id, checkins.c.challenge_id == row.id)
        )
        done = sa.select(participants.c.member_id).where(
            participants.c.tenant_id == row.tenant_id,
            participants.c.challenge_id == row.id,
            participants.c.completed_at.is_not(None),
        )
        return [(str(m), Stage.TOOK_PART) for (m,) in await self._all(took)] + [
            (str(m), Stage.COMPLETED) for (m,) in await self._all(done)
        ]

    async def _quiz(self, row: Any) -> list[tuple[str, Stage]]:
        query = sa.select(quiz_attempts.c.member_id, quiz_attempts.c.submitted_at).where(
            quiz_attempts.c.tenant_id == row.tenant_id, quiz_attempts.c.quiz_id == row.id
        )
        return [
            (str(m), Stage.TOOK_PART if at is None else Stage.COMPLETED)
            for m, at in await self._all(query)
        ]

    async def _poll(self, row: Any) -> list[tuple[str, Stage]]:
        query = sa.select(poll_votes.c.member_id).where(
            poll_votes.c.tenant_id == row.tenant_id, poll_votes.c.poll_id == row.id
        )
        return [(str(m), Stage.TOOK_PART) for (m,) in await self._all(query)]

    async def _draw(self, row: Any) -> list[tuple[str, Stage]]:
        entered = sa.select(draw_entries.c.member_id).where(
            draw_entries.c.tenant_id == row.tenant_id, draw_entries.c.draw_id == row.id
        )
        won = sa.select(draw_wins.c.member_id).where(
            draw_wins.c.tenant_id == row.tenant_id,
            draw_wins.c.draw_id == row.id,
            draw_wins.c.given_back_at.is_(None),
        )
        return [(str(m), Stage.TOOK_PART) for (m,) in await self._all(entered)] + [
            (str(m), Stage.REWARDED) for (m,) in await self._all(won)
        ]

    async def _drop(self, row: Any) -> list[tuple[str, Stage]]:
        query = sa.select(drop_claims.c.member_id, drop_claims.c.points).where(
            drop_claims.c.tenant_id == row.tenant_id, drop_claims.c.drop_id == row.id
        )
        return [
            (str(m), Stage.REWARDED if points > 0 else Stage.TOOK_PART)
            for m, points in await self._all(query)
        ]

    async def _talk(self, row: Any) -> list[tuple[str, Stage]]:
        tenant = talk_questions.c.tenant_id == row.tenant_id
        asked = sa.select(talk_questions.c.member_id).where(
            tenant, talk_questions.c.talk_id == row.id
        )
        voted = (
            sa.select(talk_votes.c.member_id)
            .join(
                talk_questions,
                sa.and_(
                    talk_questions.c.id == talk_votes.c.question_id,
                    talk_questions.c.tenant_id == talk_votes.c.tenant_id,
                ),
            )
            .where(tenant, talk_questions.c.talk_id == row.id)
        )
        attended = sa.select(talk_attendance.c.member_id, talk_attendance.c.minutes).where(
            talk_attendance.c.tenant_id == row.tenant_id, talk_attendance.c.talk_id == row.id
        )
        length = int((aware(row.ends_at) - aware(row.starts_at)).total_seconds() // 60)
        return (
            [(str(m), Stage.TOOK_PART) for (m,) in await self._all(asked)]
            + [(str(m), Stage.TOOK_PART) for (m,) in await self._all(voted)]
            + [(str(m), talk_stage(n, length)) for m, n in await self._all(attended)]
        )

    async def _meetup(self, row: Any) -> list[tuple[str, Stage]]:
        query = sa.select(meetup_registrations.c.member_id, meetup_registrations.c.status).where(
            meetup_registrations.c.tenant_id == row.tenant_id,
            meetup_registrations.c.meetup_id == row.id,
        )
        return [(str(m), meetup_stage(str(s))) for m, s in await self._all(query)]

    async def _progress(self, row: Any) -> list[Any]:
        query = sa.select(
            referral_progress.c.member_id,
            referral_progress.c.counted,
            referral_progress.c.granted,
            referral_progress.c.converted,
        ).where(
            referral_progress.c.tenant_id == row.tenant_id,
            referral_progress.c.campaign_id == row.id,
        )
        return await self._all(query)

    async def _referral(self, row: Any) -> list[tuple[str, Stage]]:
        first = int(row.tiers[0]["invites"])
        return [
            (str(m), referral_stage(int(n), first, list(granted)))
            for m, n, granted, _ in await self._progress(row)
        ]

    async def _contest(self, row: Any) -> list[tuple[str, Stage]]:
        scored = await ContestRepository(self.session).facts(row)
        awarded = sa.select(contest_awards.c.member_id).where(
            contest_awards.c.tenant_id == row.tenant_id, contest_awards.c.contest_id == row.id
        )
        return [(f.member_id, Stage.TOOK_PART) for f in scored if f.amount > 0] + [
            (str(m), Stage.REWARDED) for (m,) in await self._all(awarded)
        ]

    async def points(self, kind: Kind, row: Any) -> Points:
        if kind is Kind.DROP:
            query = sa.select(sa.func.coalesce(sa.func.sum(drop_claims.c.points), 0)).where(
                drop_claims.c.tenant_id == row.tenant_id, drop_claims.c.drop_id == row.id
            )
            return Points(awarded=int((await self.session.execute(query)).scalar_one()))
        if kind is Kind.DRAW:
            query = sa.select(draw_wins.c.prize).where(
                draw_wins.c.tenant_id == row.tenant_id,
                draw_wins.c.draw_id == row.id,
                draw_wins.c.given_back_at.is_(None),
            )
            prizes = list(row.prizes)
            won = [prizes[i] for (i,) in await self._all(query) if 0 <= i < len(prizes)]
            points = (int(p.get("points") or 0) for p in won if p.get("kind") == "points")
            return Points(awarded=sum(points))
        if kind is Kind.CONTEST:
            query = sa.select(sa.func.coalesce(sa.func.sum(contest_awards.c.points), 0)).where(
                contest_awards.c.tenant_id == row.tenant_id, contest_awards.c.contest_id == row.id
            )
            return Points(awarded=int((await self.session.execute(query)).scalar_one()))
        if kind is Kind.REFERRAL:
            tiers = list(row.tiers)
            held = [i for _, _, granted, _ in await self._progress(row) for i in granted]
            return Points(awarded=sum(int(tiers[i]["points"]) for i in held if i < len(tiers)))
        if kind is Kind.MEETUP:
            query = sa.select(
                sa.func.coalesce(sa.func.sum(meetup_registrations.c.paid_points), 0)
            ).where(
                meetup_registrations.c.tenant_id == row.tenant_id,
                meetup_registrations.c.meetup_id == row.id,
            )
            return Points(charged=int((await self.session.execute(query)).scalar_one()))
        return Points()

    async def channels(self, row: Any) -> tuple[ChannelRow, ...]:
        """A referral campaign's invited joins by channel (the community's joins)."""
        query = sa.select(referral_joins).where(
            referral_joins.c.tenant_id == row.tenant_id,
            referral_joins.c.community_id == row.community_id,
            referral_joins.c.activated_at >= row.starts_at,
            referral_joins.c.activated_at < row.ends_at,
        )
        joins = [
            Invited(
                str(j.membership_id),
                str(j.inviter_id),
                j.channel,
                aware(j.activated_at),
                bool(j.paid),
                aware(j.window_ends_at) if j.window_ends_at else None,
                aware(j.refunded_at) if j.refunded_at else None,
            )
            for j in await self._all(query)
        ]
        converted = {str(m) for _, _, _, ids in await self._progress(row) for m in ids}
        return channel_rows(joins, aware(row.starts_at), aware(row.ends_at), row.channel, converted)


_FACTS = {
    Kind.CHALLENGE: ReviewRepository._challenge,
    Kind.QUIZ: ReviewRepository._quiz,
    Kind.POLL: ReviewRepository._poll,
    Kind.DRAW: ReviewRepository._draw,
    Kind.DROP: ReviewRepository._drop,
    Kind.TALK: ReviewRepository._talk,
    Kind.MEETUP: ReviewRepository._meetup,
    Kind.REFERRAL: ReviewRepository._referral,
    Kind.CONTEST: ReviewRepository._contest,
}
