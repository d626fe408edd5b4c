"""Use cases of the application join policy: the questionnaire, applying, the review queue.

An application is the way in to a community with a questionnaire; it combines with the other
policies: once approved, a free community activates the membership, a paid one offers its
trial or waits for the payment (pending_payment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.applications.domain import (
    ApplicationStatus,
    Decision,
    InvalidAnswers,
    Questionnaire,
    evaluate,
)
from onboarding.applications.repository import ApplicationRepository
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.ids import new_id
from onboarding.invites.repository import InviteRepository
from onboarding.invites.service import check_usable, placement_code, redeemed, take_use
from onboarding.joins.repository import JoinRepository
from onboarding.membership.repository import Repository
from onboarding.membership.service import (
    Source,
    check_entry,
    enter,
    move,
    new_membership,
    record_source,
    reusable,
)
from onboarding.membership.states import Status
from onboarding.orm import Application, Community, InviteCode, Membership
from onboarding.problems import conflict
from onboarding.queries import After
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class Applied:
    application: Application
    membership: Membership
    created: bool  # False when the member's pending application was returned as it is


@dataclass(frozen=True)
class Entry:
    """The code an applicant came through, if any: it opens private communities and is
    recorded as the membership's source (an invite's use is taken on submission)."""

    routing_code: str | None = None
    invite_code: str | None = None
    accepted_rules_version: int | None = None  # the community's rules, when it has some


@dataclass(frozen=True)
class Review:
    decision: Decision
    reviewer: str | None  # None: a rule decided
    reason: str | None = None
    reviewer_kind: str = "operator"  # or "member": a community role with review_applications


@dataclass(frozen=True)
class ReviewResult:
    """One id of a bulk review: the decided application, or the problem that stopped it."""

    application_id: str
    applied: Applied | None = None
    problem: Problem | None = None


class Admissions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # ------------------------------------------------------------ questionnaire

    async def set_questionnaire(
        self,
        tenant_id: str,
        community_id: str,
        questionnaire: Questionnaire | None,
        *,
        actor: Actor,
    ) -> Community:
        """Set (or, with None, remove) the community's questionnaire.

        Removing it stops new applications; the ones already waiting stay in the queue.
        """
        async with transaction(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
            if community is None:
                raise not_found("community")
            community.application_form = questionnaire.as_json() if questionnaire else None
            event = events.community_updated(community, ["application_form"], utcnow())
            await add_event(session, event)
            action = "questionnaire.set" if questionnaire else "questionnaire.removed"
            await audit.record(
                session,
                tenant_id,
                actor,
                action,
                target_kind="community",
                target_id=community.id,
                community_id=community.id,
            )
            return community

    async def community(self, tenant_id: str, community_id: str) -> Community:
        async with read_only(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
        if community is None:
            raise not_found("community")
        return community

    async def set_min_level(
        self, tenant_id: str, community_id: str, min_level: int | None, *, actor: Actor
    ) -> Community:
        """Gate (or, with None, ungate) joining on the member's rewards level.

        Members already in stay: the gate is checked when someone joins or applies.
        """
        async with transaction(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
            if community is None:
                raise not_found("community")
            community.min_level = min_level
            await add_event(session, events.community_updated(community, ["min_level"], utcnow()))
            await audit.record(
                session,
                tenant_id,
                actor,
                "community.level_gate_set",
                target_kind="community",
                target_id=community.id,
                community_id=community.id,
                details={"min_level": min_level},
            )
            return community

    # ------------------------------------------------------------ applying

    async def apply(
        self,
        tenant_id: str,
        member_id: str,
        community_id: str,
        answers: Mapping[str, Any],
        entry: Entry | None = None,
    ) -> Applied:
        """Submit answers: pending_application, or decided at once by a matching rule."""
        # Two concurrent first applications of one member collide on the membership key;
        # the retry finds the winner's pending application and returns it.
        for attempt in (1, 2):
            try:
                async with transaction(self.sessions) as session:
                    return await _apply_in(
                        session, tenant_id, member_id, community_id, answers, entry or Entry()
                    )
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ review queue

    async def applications(
        self,
        tenant_id: str,
        *,
        community_id: str | None = None,
        member_id: str | None = None,
        status: str | None = None,
        after: After | None = None,
        limit: int = 50,
    ) -> list[Application]:
        async with read_only(self.sessions) as session:
            rows = await ApplicationRepository(session).applications_page(
                tenant_id,
                community_id=community_id,
                member_id=member_id,
                status=status,
                after=after,
                limit=limit,
            )
            return list(rows)

    async def application(self, tenant_id: str, application_id: str) -> Application:
        async with read_only(self.sessions) as session:
            found = await ApplicationRepository(session).application(tenant_id, application_id)
        if found is None:
            raise not_found("application")
        return found

    async def decide(self, tenant_id: str, application_id: str, review: Review) -> Applied:
        async with transaction(self.sessions) as session:
            return await _decide_in(session, tenant_id, application_id, review)

    async def decide_many(
        self, tenant_id: str, application_ids: Sequence[str], review: Review
    ) -> list[ReviewResult]:
        """Each id in its own transaction: one closed or unknown id never undoes the others."""
        results = []
        for application_id in application_ids:
            try:
                applied = await self.decide(tenant_id, application_id, review)
            except Problem as problem:
                results.append(ReviewResult(application_id, problem=problem))
            else:
                results.append(ReviewResult(application_id, applied=applied))
        return results


# ---------------------------------------------------------------- in-transaction steps


async def _apply_in(
    session: AsyncSession,
    tenant_id: str,
    member_id: str,
    community_id: str,
    answers: Mapping[str, Any],
    entry: Entry,
) -> Applied:
    repo = Repository(session)
    community = await repo.community(tenant_id, community_id)
    source, invite = await _source(repo, tenant_id, community_id, entry)
    membership = await repo.membership_of(tenant_id, community_id, member_id)
    reachable = source.code is not None or membership is not None
    if community is None or (community.visibility != "public" and not reachable):
        raise not_found("community")
    if community.application_form is None:
        raise conflict("no-application", "No application", "this community takes no applications")
    pending = await _current(repo, membership)
    if pending is not None:
        return pending
    questionnaire = Questionnaire.from_json(community.application_form)
    clean = _checked(questionnaire, answers)
    await check_entry(repo, community, member_id, entry.accepted_rules_version)
    if invite is not None:
        # The invite is the source (attribution); a routing code brought along places them.
        placed_by = source.routing_code_id
        source = replace(await take_use(session, invite, member_id), routing_code_id=placed_by)
    membership = await _pending_membership(session, community, member_id, membership, source)
    if invite is not None:
        await redeemed(session, invite, membership)
    application = await _submit(session, membership, clean)
    verdict = evaluate(questionnaire.rules, clean)
    if verdict is not None:
        auto = Review(verdict.decision, reviewer=None, reason=verdict.reason)
        await _record_decision(session, community, application, membership, auto, auto=True)
    return Applied(application, membership, created=True)


async def _source(
    repo: Repository, tenant_id: str, community_id: str, entry: Entry
) -> tuple[Source, InviteCode | None]:
    """Where the applicant came from, and the invite whose use submitting will take."""
    if entry.invite_code is not None:
        invite = await InviteRepository(repo.session).invite(tenant_id, entry.invite_code)
        if invite is None or invite.community_id != community_id:
            raise not_found("invite")
        check_usable(invite)
        placed_by = await placement_code(repo.session, tenant_id, community_id, entry.routing_code)
        return Source("invite", code=invite.code, routing_code_id=placed_by), invite
    if entry.routing_code is not None:
        code = await JoinRepository(repo.session).routing_code(tenant_id, entry.routing_code)
        if code is None or code.community_id != community_id:
            raise not_found("routing code")
        source = Source(
            "routing_code", code=code.code, channel=code.channel, routing_code_id=code.id
        )
        return source, None
    return Source(kind="application"), None


async def _current(repo: Repository, membership: Membership | None) -> Applied | None:
    """The pending application to return as it is, or None when a new one may be submitted."""
    if reusable(membership):
        return None
    assert membership is not None
    status = Status(membership.status)
    if status != Status.PENDING_APPLICATION:
        raise conflict("already-member", "Already a member", f"the membership is {status}")
    application = await ApplicationRepository(repo.session).latest_application(membership.id)
    assert application is not None  # pending_application is only entered by applying
    return Applied(application, membership, created=False)


def _checked(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return dict(questionnaire.form.check(answers))
    except InvalidAnswers as error:
        # The same shape as request validation errors, so clients show both the same way.
        problems = [
            {"location": ["body", "answers", e.key], "message": e.message} for e in error.errors
        ]
        raise Problem(
            422,
            "invalid-answers",
            "Invalid answers",
            "Some answers do not fit the questionnaire.",
            errors=problems,
        ) from error


async def _pending_membership(
    session: AsyncSession,
    community: Community,
    member_id: str,
    membership: Membership | None,
    source: Source,
) -> Membership:
    if membership is None:
        status = Status.PENDING_APPLICATION
        return await new_membership(
            session, community.tenant_id, community.id, member_id, status, source
        )
    record_source(membership, source)
    await move(session, membership, Status.PENDING_APPLICATION)
    return membership


async def _submit(
    session: AsyncSession, membership: Membership, answers: dict[str, Any]
) -> Application:
    application = Application(
        id=new_id(),
        tenant_id=membership.tenant_id,
        community_id=membership.community_id,
        membership_id=membership.id,
        member_id=membership.member_id,
        status=ApplicationStatus.PENDING,
        answers=answers,
        auto=False,
        decided_by=None,
        reason=None,
        created_at=utcnow(),
        decided_at=None,
    )
    session.add(application)
    await session.flush()
    await add_event(session, events.application_submitted(application, membership))
    return application


async def _decide_in(
    session: AsyncSession, tenant_id: str, application_id: str, review: Review
) -> Applied:
    repo = Repository(session)
    application = await ApplicationRepository(session).application(tenant_id, application_id)
    if application is None:
        raise not_found("application")
    if application.status != ApplicationStatus.PENDING:
        raise conflict(
            "application-decided", "Already decided", f"the application is {application.status}"
        )
    membership = await repo.membership(tenant_id, application.membership_id)
    community = await repo.community(tenant_id, application.community_id)
    assert membership is not None and community is not None
    if Status(membership.status) != Status.PENDING_APPLICATION:
        # A moderator banned or removed the applicant meanwhile: their decision stands.
        raise conflict(
            "application-closed", "Application closed", f"the membership is {membership.status}"
        )
    await _record_decision(session, community, application, membership, review, auto=False)
    return Applied(application, membership, created=False)


async def _record_decision(
    session: AsyncSession,
    community: Community,
    application: Application,
    membership: Membership,
    review: Review,
    *,
    auto: bool,
) -> None:
    """The decision, its event, then the membership's next step (approval) or its end."""
    now = utcnow()
    approved = review.decision is Decision.APPROVE
    application.status = ApplicationStatus.APPROVED if approved else ApplicationStatus.REJECTED
    application.auto = auto
    application.decided_by = review.reviewer
    application.reason = review.reason
    application.decided_at = now
    await add_event(session, events.application_decided(application, membership))
    if review.reviewer is not None:  # a rule's decision at submit time is no one's action
        await audit.record(
            session,
            community.tenant_id,
            Actor(review.reviewer, review.reviewer_kind),
            f"application.{application.status}",
            target_kind="application",
            target_id=application.id,
            community_id=community.id,
            reason=review.reason,
            details={"membership_id": membership.id, "member_id": membership.member_id},
        )
    if approved:
        await enter(session, community, membership)
    else:
        # "removed": turned away by the community; it may be left by applying again.
        await move(session, membership, Status.REMOVED, now)


async def admitted(session: AsyncSession, membership: Membership | None) -> bool:
    """May this member pay into a community that reviews applications?

    Yes once their latest application was approved, and also for members who joined before
    the community started reviewing (they have no application): they were admitted then.
    """
    if membership is None or Status(membership.status) == Status.PENDING_APPLICATION:
        return False
    latest = await ApplicationRepository(session).latest_application(membership.id)
    return latest is None or latest.status == ApplicationStatus.APPROVED


async def withdraw_application(session: AsyncSession, membership: Membership) -> None:
    """Leaving while the application waits takes it out of the review queue."""
    application = await ApplicationRepository(session).latest_application(membership.id)
    if application is not None and application.status == ApplicationStatus.PENDING:
        application.status = ApplicationStatus.WITHDRAWN
        application.decided_at = utcnow()
