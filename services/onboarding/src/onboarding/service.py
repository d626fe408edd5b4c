"""Use cases of onboarding: one transaction each; every change's events through the outbox.

Callers pass the tenant id from the verified token; every lookup is scoped by it, so another
tenant's ids are simply not found (404), never "forbidden" (which would confirm they exist).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import audit, events
from onboarding.audit import Actor
from onboarding.domain import levels
from onboarding.domain import memberships as machine
from onboarding.domain.applications import ApplicationStatus, Questionnaire
from onboarding.domain.memberships import IllegalTransition, Status
from onboarding.domain.routing import overflow_name, placement_order
from onboarding.domain.terms import (
    PaidTerms,
    TermKind,
    TermOver,
    paid_period,
    refund_allowed,
    trial_ends_at,
)
from onboarding.orm import (
    Community,
    Group,
    Member,
    MemberLevel,
    Membership,
    Payment,
    RoutingCode,
)
from onboarding.repository import After, Repository
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.timers import Timer, cancel, schedule
from servicekit.types import utcnow

EXPIRY_TIMER = "membership.expiry"
TIER_TRIAL = "trial"
TIER_CORE = "core"


def conflict(slug: str, title: str, detail: str) -> Problem:
    return Problem(409, slug, title, detail)


def unprocessable(slug: str, title: str, detail: str) -> Problem:
    return Problem(422, slug, title, detail)


def application_required(detail: str) -> Problem:
    return conflict("application-required", "Application required", detail)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Source:
    """How a member arrived; carried by membership.activated for attribution."""

    kind: str
    code: str | None = None
    channel: str | None = None
    inviter_id: str | None = None
    routing_code_id: str | None = None
    group_id: str | None = None  # an invite's target group


@dataclass(frozen=True)
class NewGroup:
    name: str
    kind: str = "core"
    capacity: int = 500


@dataclass(frozen=True)
class NewCommunity:
    slug: str
    name: str
    description: str = ""
    visibility: str = "public"
    timezone: str = "Asia/Shanghai"
    join_policy: str = "open"
    price_cents: int | None = None
    currency: str | None = None
    term_kind: str | None = None
    term_days: int | None = None
    term_fixed_ends_at: datetime | None = None
    trial_days: int = 0
    refund_window_hours: int = 0
    groups: list[NewGroup] = field(default_factory=list)
    questionnaire: Questionnaire | None = None  # set: joining takes an application
    min_level: int | None = None  # set: joining needs this rewards level


@dataclass(frozen=True)
class NewRoutingCode:
    community_id: str
    code: str
    group_ids: list[str]
    channel: str | None = None
    overflow_prefix: str = ""
    overflow_kind: str = "core"
    overflow_capacity: int = 500


@dataclass(frozen=True)
class PaymentConfirmation:
    reference: str
    community_id: str
    member_id: str
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class Joined:
    membership: Membership
    created: bool  # False when the member already belonged (the join was a no-op)


def paid_terms(community: Community) -> PaidTerms | None:
    """The community's paid terms, or None for a free one."""
    if community.join_policy != "paid":
        return None
    assert community.price_cents and community.currency and community.term_kind
    return PaidTerms(
        price_cents=community.price_cents,
        currency=community.currency,
        term_kind=TermKind(community.term_kind),
        term_days=community.term_days,
        fixed_ends_at=community.term_fixed_ends_at,
        trial_days=community.trial_days,
        refund_window_hours=community.refund_window_hours,
    )


class Onboarding:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # ------------------------------------------------------------- communities

    async def create_community(
        self, tenant_id: str, draft: NewCommunity, *, actor: Actor
    ) -> Community:
        _check_terms(draft)
        now = utcnow()
        settings = {k: v for k, v in draft.__dict__.items() if k not in ("groups", "questionnaire")}
        form = draft.questionnaire.as_json() if draft.questionnaire else None
        community = Community(
            id=new_id(), tenant_id=tenant_id, application_form=form, created_at=now, **settings
        )
        try:
            async with transaction(self.sessions) as session:
                repo = Repository(session)
                repo.add(community)
                await repo.flush()
                await add_event(session, events.community_created(community))
                for group in draft.groups:
                    await _open_group(session, community, group, routing_code_id=None)
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "community.created",
                    target_kind="community",
                    target_id=community.id,
                    community_id=community.id,
                )
        except IntegrityError as error:
            raise conflict(
                "slug-taken", "Slug taken", f"a community is already {draft.slug!r}"
            ) from error
        return community

    async def community(self, tenant_id: str, community_id: str) -> Community:
        async with read_only(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
        if community is None:
            raise not_found("community")
        return community

    async def community_for_member(
        self, tenant_id: str, community_id: str, member_id: str
    ) -> Community:
        """A member sees public communities and the ones they belong to; others are 404."""
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            community = await repo.community(tenant_id, community_id)
            mine = await repo.membership_of(tenant_id, community_id, member_id)
        if community is None or (community.visibility != "public" and mine is None):
            raise not_found("community")
        return community

    async def communities(
        self, tenant_id: str, *, visible_to: str | None, after: After | None, limit: int
    ) -> list[Community]:
        async with read_only(self.sessions) as session:
            return list(
                await Repository(session).communities_page(
                    tenant_id, visible_to=visible_to, after=after, limit=limit
                )
            )

    # ------------------------------------------------------------------ groups

    async def add_group(
        self, tenant_id: str, community_id: str, draft: NewGroup, *, actor: Actor
    ) -> Group:
        try:
            async with transaction(self.sessions) as session:
                community = await Repository(session).community(tenant_id, community_id)
                if community is None:
                    raise not_found("community")
                group = await _open_group(session, community, draft, routing_code_id=None)
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "group.created",
                    target_kind="group",
                    target_id=group.id,
                    community_id=community_id,
                )
                return group
        except IntegrityError as error:
            raise conflict(
                "group-name-taken", "Group name taken", f"the community has a {draft.name!r}"
            ) from error

    async def groups(self, tenant_id: str, community_id: str) -> list[Group]:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            if await repo.community(tenant_id, community_id) is None:
                raise not_found("community")
            return list(await repo.groups(tenant_id, community_id))

    # ----------------------------------------------------------- routing codes

    async def create_routing_code(
        self, tenant_id: str, draft: NewRoutingCode, *, actor: Actor
    ) -> RoutingCode:
        try:
            async with transaction(self.sessions) as session:
                repo = Repository(session)
                if await repo.community(tenant_id, draft.community_id) is None:
                    raise not_found("community")
                known = {g.id for g in await repo.groups(tenant_id, draft.community_id)}
                unknown = sorted(set(draft.group_ids) - known)
                if unknown:
                    raise unprocessable(
                        "unknown-groups",
                        "Unknown groups",
                        f"not groups of this community: {', '.join(unknown)}",
                    )
                code = RoutingCode(
                    id=new_id(),
                    tenant_id=tenant_id,
                    overflow_count=0,
                    created_at=utcnow(),
                    **{**draft.__dict__, "group_ids": sorted(set(draft.group_ids))},
                )
                repo.add(code)
                await repo.flush()
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "routing_code.created",
                    target_kind="routing_code",
                    target_id=code.id,
                    community_id=code.community_id,
                    details={"code": code.code, "channel": code.channel},
                )
        except IntegrityError as error:
            raise conflict(
                "code-taken", "Code taken", f"the routing code {draft.code!r} exists"
            ) from error
        return code

    async def routing_code(self, tenant_id: str, code_id: str) -> RoutingCode:
        async with read_only(self.sessions) as session:
            code = await Repository(session).routing_code_by_id(tenant_id, code_id)
        if code is None:
            raise not_found("routing code")
        return code

    # ------------------------------------------------------------------- joins

    async def join(self, tenant_id: str, member_id: str, community_id: str) -> Joined:
        """A member joins a public community directly (open → active; paid → trial or payment)."""
        return await self._join(tenant_id, member_id, community_id, Source(kind="open"), True)

    async def join_by_code(self, tenant_id: str, member_id: str, code: str) -> Joined:
        """A member scanned a routing code: any visibility; placed in the code's groups."""
        async with read_only(self.sessions) as session:
            found = await Repository(session).routing_code(tenant_id, code)
        if found is None:
            raise not_found("routing code")
        source = Source(
            kind="routing_code", code=found.code, channel=found.channel, routing_code_id=found.id
        )
        return await self._join(tenant_id, member_id, found.community_id, source, False)

    async def _join(
        self, tenant_id: str, member_id: str, community_id: str, source: Source, public_only: bool
    ) -> Joined:
        # Two concurrent first joins of one member collide on the unique membership key;
        # the retry finds the winner's row and answers as a repeated join.
        for attempt in (1, 2):
            try:
                async with transaction(self.sessions) as session:
                    return await _join_in(
                        session, tenant_id, member_id, community_id, source, public_only
                    )
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def leave(self, tenant_id: str, member_id: str, community_id: str) -> Membership:
        async with transaction(self.sessions) as session:
            membership = await Repository(session).membership_of(tenant_id, community_id, member_id)
            if membership is None:
                raise not_found("membership")
            if Status(membership.status) == Status.PENDING_APPLICATION:
                await _withdraw_application(session, membership)
            await move(session, membership, Status.LEFT)
            await add_event(
                session, events.membership_left(membership, membership.status_changed_at)
            )
            return membership

    # ---------------------------------------------------------------- payments

    async def confirm_payment(
        self, session: AsyncSession, tenant_id: str, payment: PaymentConfirmation
    ) -> tuple[Membership, Payment]:
        """Activate (or renew) the member's membership; runs inside run_idempotent's transaction."""
        repo = Repository(session)
        community = await repo.community(tenant_id, payment.community_id)
        if community is None:
            raise not_found("community")
        terms = paid_terms(community)
        if terms is None:
            raise unprocessable("not-paid", "Not a paid community", "this community is free")
        if (payment.amount_cents, payment.currency.upper()) != (terms.price_cents, terms.currency):
            raise unprocessable(
                "amount-mismatch",
                "Amount mismatch",
                f"the price is {terms.price_cents} {terms.currency}",
            )
        if await repo.payment_by_reference(tenant_id, payment.reference) is not None:
            raise conflict(
                "payment-duplicate", "Payment already recorded", "this reference was confirmed"
            )
        membership = await repo.membership_of(tenant_id, community.id, payment.member_id)
        if community.application_form is not None and not await _admitted(repo, membership):
            raise application_required("the member's application was not approved")
        if membership is None or Status(membership.status) in ENDED:
            await check_level(repo, community, payment.member_id)
        if membership is None:
            membership = await new_membership(
                session,
                tenant_id,
                community.id,
                payment.member_id,
                Status.PENDING_PAYMENT,
                Source(kind="payment"),
            )
        return await _apply_payment(session, membership, terms, payment)

    async def refund(
        self,
        session: AsyncSession,
        tenant_id: str,
        membership_id: str,
        reason: str | None,
        *,
        actor: Actor,
    ) -> Membership:
        """Refund the latest payment inside its window: the membership is revoked."""
        repo = Repository(session)
        membership = await repo.membership(tenant_id, membership_id)
        if membership is None:
            raise not_found("membership")
        payment = await repo.latest_payment(membership.id)
        if payment is None or payment.refunded_at is not None:
            raise conflict("nothing-to-refund", "Nothing to refund", "no refundable payment")
        now = utcnow()
        if not refund_allowed(payment.refund_window_ends_at, now):
            raise conflict(
                "refund-window-closed",
                "Refund window closed",
                f"refunds were possible until {payment.refund_window_ends_at.isoformat()}",
            )
        await move(session, membership, Status.REFUNDED, now)
        payment.refunded_at = now
        membership.refund_window_ends_at = None
        await cancel(session, EXPIRY_TIMER, membership.id)
        await add_event(session, events.membership_refunded(membership, reason, now))
        await audit.record(
            session,
            tenant_id,
            actor,
            "membership.refunded",
            target_kind="membership",
            target_id=membership.id,
            community_id=membership.community_id,
            reason=reason,
            details={"member_id": membership.member_id, "payment_id": payment.id},
        )
        return membership

    # ------------------------------------------------------------- memberships

    async def memberships(
        self,
        tenant_id: str,
        *,
        community_id: str | None = None,
        member_id: str | None = None,
        status: str | None = None,
        after: After | None = None,
        limit: int = 50,
    ) -> list[Membership]:
        async with read_only(self.sessions) as session:
            return list(
                await Repository(session).memberships_page(
                    tenant_id,
                    community_id=community_id,
                    member_id=member_id,
                    status=status,
                    after=after,
                    limit=limit,
                )
            )

    async def membership(self, tenant_id: str, membership_id: str) -> Membership:
        async with read_only(self.sessions) as session:
            membership = await Repository(session).membership(tenant_id, membership_id)
        if membership is None:
            raise not_found("membership")
        return membership

    async def member(self, tenant_id: str, external_id: str) -> Member | None:
        async with read_only(self.sessions) as session:
            return await Repository(session).member(tenant_id, external_id)


# ---------------------------------------------------------------- in-transaction steps


def _check_terms(draft: NewCommunity) -> None:
    if draft.join_policy != "paid":
        terms = (draft.price_cents, draft.currency, draft.term_kind, draft.term_days)
        if (
            any(value is not None for value in terms)
            or draft.trial_days
            or draft.refund_window_hours
        ):
            raise unprocessable(
                "invalid-terms", "Invalid terms", "only a paid community has price and terms"
            )
        return
    try:
        PaidTerms(
            price_cents=draft.price_cents or 0,
            currency=draft.currency or "",
            term_kind=TermKind(draft.term_kind or ""),
            term_days=draft.term_days,
            fixed_ends_at=draft.term_fixed_ends_at,
            trial_days=draft.trial_days,
            refund_window_hours=draft.refund_window_hours,
        )
    except ValueError as error:
        raise unprocessable("invalid-terms", "Invalid paid terms", str(error)) from error
    if not draft.currency:
        raise unprocessable(
            "invalid-terms", "Invalid paid terms", "a paid community has a currency"
        )


async def _open_group(
    session: AsyncSession, community: Community, draft: NewGroup, *, routing_code_id: str | None
) -> Group:
    group = Group(
        id=new_id(),
        tenant_id=community.tenant_id,
        community_id=community.id,
        name=draft.name,
        kind=draft.kind,
        capacity=draft.capacity,
        member_count=0,
        routing_code_id=routing_code_id,
        created_at=utcnow(),
    )
    session.add(group)
    await session.flush()
    await add_event(session, events.group_created(group))
    return group


async def upsert_member(
    session: AsyncSession, tenant_id: str, external_id: str, profile: dict[str, Any]
) -> None:
    """Create or update a directory entry; an unchanged profile changes (and emits) nothing."""
    repo = Repository(session)
    now = utcnow()
    display_name = _display_name(profile)
    created = await repo.insert_member_if_absent(
        Member(
            id=new_id(),
            tenant_id=tenant_id,
            external_id=external_id,
            display_name=display_name,
            profile=profile,
            tags=[],
            created_at=now,
            updated_at=now,
        )
    )
    if not created:
        member = await repo.member(tenant_id, external_id)
        assert member is not None
        merged = {**member.profile, **profile}
        if merged == member.profile:
            return
        member.profile, member.updated_at = merged, now
        member.display_name = _display_name(merged)
        display_name, profile = member.display_name, merged
    event = events.member_upserted(
        tenant_id, external_id, display_name, profile, created=created, at=now
    )
    await add_event(session, event)


def _display_name(profile: dict[str, Any]) -> str | None:
    name = profile.get("display_name")
    return str(name)[:200] if name else None


async def _ensure_member(session: AsyncSession, tenant_id: str, external_id: str) -> None:
    """A stub directory entry: a join or a payment may arrive before member.identified."""
    now = utcnow()
    await Repository(session).insert_member_if_absent(
        Member(
            id=new_id(),
            tenant_id=tenant_id,
            external_id=external_id,
            display_name=None,
            profile={},
            tags=[],
            created_at=now,
            updated_at=now,
        )
    )


async def new_membership(
    session: AsyncSession,
    tenant_id: str,
    community_id: str,
    member_id: str,
    status: Status,
    source: Source,
) -> Membership:
    await _ensure_member(session, tenant_id, member_id)
    now = utcnow()
    membership = Membership(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=community_id,
        member_id=member_id,
        status=status,
        tier=TIER_CORE,
        group_id=None,
        trial_used=False,
        activated_at=None,
        term_ends_at=None,
        refund_window_ends_at=None,
        created_at=now,
        status_changed_at=now,
    )
    record_source(membership, source)
    session.add(membership)
    await session.flush()
    return membership


def record_source(membership: Membership, source: Source) -> None:
    membership.source_kind = source.kind
    membership.source_code = source.code
    membership.source_channel = source.channel
    membership.inviter_id = source.inviter_id
    membership.routing_code_id = source.routing_code_id
    membership.target_group_id = source.group_id


async def _join_in(
    session: AsyncSession,
    tenant_id: str,
    member_id: str,
    community_id: str,
    source: Source,
    public_only: bool,
) -> Joined:
    repo = Repository(session)
    community = await repo.community(tenant_id, community_id)
    membership = await repo.membership_of(tenant_id, community_id, member_id)
    if community is None or (public_only and community.visibility != "public" and not membership):
        raise not_found("community")
    if not reusable(membership):
        assert membership is not None
        return Joined(membership, created=False)  # already in (or on the way in): a no-op
    await check_level(repo, community, member_id)
    if community.application_form is not None:
        raise application_required(
            "apply with answers (and the code that brought you, if any): "
            f"POST /v1/onboarding/communities/{community.id}/applications"
        )
    if membership is None:
        membership = await new_membership(
            session, tenant_id, community.id, member_id, Status.PENDING_PAYMENT, source
        )
    else:
        record_source(membership, source)
    await enter(session, community, membership)
    return Joined(membership, created=True)


ENDED = frozenset({Status.EXPIRED, Status.LEFT, Status.REMOVED, Status.REFUNDED})


def reusable(membership: Membership | None) -> bool:
    """May a join (re)start this membership? False: the member is already in, or on the way
    in (a join is then a no-op). A banned member is refused."""
    if membership is not None and Status(membership.status) == Status.BANNED:
        raise Problem(403, "banned", "Banned", "you are banned from this community")
    return membership is None or Status(membership.status) in ENDED


async def check_level(repo: Repository, community: Community, member_id: str) -> None:
    """A level-gated community admits members whom rewards reported at its level or above."""
    if community.min_level is None:
        return
    known = await repo.member_level(community.tenant_id, member_id)
    level = known.level if known else levels.BASE_LEVEL
    if not levels.admits(community.min_level, level):
        raise Problem(
            403,
            "level-required",
            "Level required",
            f"joining needs level {community.min_level}; you are at level {level}",
            required_level=community.min_level,
            level=level,
        )


async def record_level(
    session: AsyncSession, tenant_id: str, member_id: str, level: int, changed_at: datetime
) -> None:
    """The projection of rewards' levels: keep the latest reported level of each member."""
    repo = Repository(session)
    row = MemberLevel(tenant_id=tenant_id, member_id=member_id, level=level, changed_at=changed_at)
    if await repo.insert_level_if_absent(row):
        return
    known = await repo.member_level(tenant_id, member_id)
    assert known is not None
    if levels.supersedes(changed_at, known.changed_at):
        known.level, known.changed_at = level, changed_at


async def _admitted(repo: Repository, membership: Membership | None) -> bool:
    """May this member pay into a community that reviews applications?

    Yes once their latest application was approved, and also for members who joined before
    the community started reviewing (they have no application): they were admitted then.
    """
    if membership is None or Status(membership.status) == Status.PENDING_APPLICATION:
        return False
    latest = await repo.latest_application(membership.id)
    return latest is None or latest.status == ApplicationStatus.APPROVED


async def _withdraw_application(session: AsyncSession, membership: Membership) -> None:
    """Leaving while the application waits takes it out of the review queue."""
    application = await Repository(session).latest_application(membership.id)
    if application is not None and application.status == ApplicationStatus.PENDING:
        application.status = ApplicationStatus.WITHDRAWN
        application.decided_at = utcnow()


async def enter(session: AsyncSession, community: Community, membership: Membership) -> None:
    """Open → active; paid → a free trial if the member never had one, else pending_payment."""
    terms = paid_terms(community)
    now = utcnow()
    if terms is None:
        await _activate(session, membership, TIER_CORE, now, term_ends_at=None, refund_ends_at=None)
        return
    trial_end = trial_ends_at(terms, now)
    if trial_end is not None and not membership.trial_used:
        membership.trial_used = True
        await _activate(
            session, membership, TIER_TRIAL, now, term_ends_at=trial_end, refund_ends_at=None
        )
        return
    if Status(membership.status) != Status.PENDING_PAYMENT:
        await move(session, membership, Status.PENDING_PAYMENT, now)


async def _apply_payment(
    session: AsyncSession,
    membership: Membership,
    terms: PaidTerms,
    confirmation: PaymentConfirmation,
) -> tuple[Membership, Payment]:
    status = Status(membership.status)
    if status in (Status.BANNED, Status.PENDING_APPLICATION):
        raise conflict(
            "cannot-activate", "Cannot activate", f"the membership is {status}: payment refused"
        )
    now = utcnow()
    renewing = status in (Status.ACTIVE, Status.MUTED)
    try:
        period = paid_period(terms, now, membership.term_ends_at if renewing else None)
    except TermOver as error:
        raise unprocessable("term-over", "Term over", str(error)) from error
    payment = Payment(
        id=new_id(),
        tenant_id=membership.tenant_id,
        membership_id=membership.id,
        reference=confirmation.reference,
        amount_cents=confirmation.amount_cents,
        currency=confirmation.currency.upper(),
        paid_at=now,
        refund_window_ends_at=period.refund_window_ends_at,
        refunded_at=None,
    )
    session.add(payment)
    await session.flush()
    if renewing:
        membership.term_ends_at = period.term_ends_at
        membership.refund_window_ends_at = period.refund_window_ends_at
        await _schedule_expiry(session, membership)
        await add_event(session, events.membership_renewed(membership, payment.id, now))
    else:
        await _activate(
            session,
            membership,
            TIER_CORE,
            now,
            term_ends_at=period.term_ends_at,
            refund_ends_at=period.refund_window_ends_at,
        )
    return membership, payment


async def _activate(
    session: AsyncSession,
    membership: Membership,
    tier: str,
    now: datetime,
    *,
    term_ends_at: datetime | None,
    refund_ends_at: datetime | None,
) -> None:
    """Into trial or active, seated in a group, with the expiry timer and the event."""
    target = Status.TRIAL if tier == TIER_TRIAL else Status.ACTIVE
    was_seated = machine.holds_seat(Status(membership.status))
    await move(session, membership, target, now)
    membership.tier = tier
    membership.activated_at = now
    membership.term_ends_at = term_ends_at
    membership.refund_window_ends_at = refund_ends_at
    if not was_seated:
        await _seat(session, membership)
    if term_ends_at is not None:
        await _schedule_expiry(session, membership)
    await add_event(session, events.membership_activated(membership))


async def move(
    session: AsyncSession, membership: Membership, target: Status, now: datetime | None = None
) -> None:
    """Apply one state-machine transition; leaving the seated states frees the seat."""
    current = Status(membership.status)
    try:
        machine.transition(current, target)
    except IllegalTransition as error:
        raise conflict("illegal-transition", "Not possible now", str(error)) from error
    if machine.holds_seat(current) and not machine.holds_seat(target):
        await _unseat(session, membership)
    membership.status = target
    membership.status_changed_at = now or utcnow()


async def _schedule_expiry(session: AsyncSession, membership: Membership) -> None:
    assert membership.term_ends_at is not None
    payload = {"tenant_id": membership.tenant_id, "membership_id": membership.id}
    await schedule(session, EXPIRY_TIMER, membership.id, membership.term_ends_at, payload)


# ---------------------------------------------------------------- seats (capacity routing)


async def _seat(session: AsyncSession, membership: Membership) -> None:
    """Place the member in a group of their routing code, or their invite's target group.

    A full target group leaves the member without a group rather than refusing them: the
    seat is taken on activation, often a payment, which must not fail over a chat group.
    A direct join has no group.
    """
    if membership.routing_code_id is None:
        target = membership.target_group_id
        seated = target is not None and await _take_seat(session, membership, target)
        membership.group_id = target if seated else None
        return
    repo = Repository(session)
    code = await repo.routing_code_by_id(membership.tenant_id, membership.routing_code_id)
    if code is None:
        return
    group_id = await _take_any_seat(session, code)
    if group_id is None:
        # Every group is full. Lock the code so only one joiner at a time opens an overflow
        # group, then look again: the joiner before us may just have opened one with room.
        code = await repo.lock_routing_code(code.id)
        group_id = await _take_any_seat(session, code) or await _open_overflow(session, code)
    membership.group_id = group_id


async def _take_any_seat(session: AsyncSession, code: RoutingCode) -> str | None:
    for load in placement_order(await Repository(session).group_loads(code)):
        if await _take_seat(session, code, load.group_id):
            return load.group_id
    return None


async def _take_seat(session: AsyncSession, owner: RoutingCode | Membership, group_id: str) -> bool:
    """One seat of the group if it has room; the seat that fills it publishes group.full."""
    taken = await Repository(session).take_seat(group_id)
    if taken is None:
        return False
    count, capacity = taken
    if count == capacity:
        event = events.group_full(owner.tenant_id, owner.community_id, group_id, capacity, utcnow())
        await add_event(session, event)
    return True


async def _open_overflow(session: AsyncSession, code: RoutingCode) -> str:
    repo = Repository(session)
    community = await repo.community(code.tenant_id, code.community_id)
    assert community is not None
    taken = await repo.group_names(code.community_id)
    number = code.overflow_count + 1
    while overflow_name(code.overflow_prefix, number) in taken:  # skip names operators used
        number += 1
    code.overflow_count = number
    draft = NewGroup(
        overflow_name(code.overflow_prefix, number), code.overflow_kind, code.overflow_capacity
    )
    group = await _open_group(session, community, draft, routing_code_id=code.id)
    seat = await repo.take_seat(group.id)
    assert seat is not None  # a group we just created, invisible to everyone else until commit
    return group.id


async def _unseat(session: AsyncSession, membership: Membership) -> None:
    if membership.group_id is not None:
        await Repository(session).free_seat(membership.group_id)
        membership.group_id = None


# ---------------------------------------------------------------- timers


async def expire_membership(session: AsyncSession, timer: Timer) -> None:
    """Timer: a trial or a term ended (a renewal moves the timer and the term together)."""
    repo = Repository(session)
    membership = await repo.membership(timer.payload["tenant_id"], timer.payload["membership_id"])
    if membership is None or not machine.holds_seat(Status(membership.status)):
        return  # refunded, left, removed meanwhile: nothing to expire
    if membership.term_ends_at is None or membership.term_ends_at > timer.due_at:
        return  # the term was extended after this timer was armed
    now = utcnow()
    await move(session, membership, Status.EXPIRED, now)
    await add_event(session, events.membership_expired(membership, membership.tier, now))
