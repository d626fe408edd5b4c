"""Use cases of onboarding: one transaction each; every change's events through the outbox.

Callers pass the tenant id from the verified token; every lookup is scoped by it, so another
tenant's ids are simply not found (404), never "forbidden" (which would confirm they exist).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from onboarding import audit, events, roles, seating
from onboarding.audit import Actor
from onboarding.directory import MemberUpsert, upsert_members
from onboarding.domain import levels
from onboarding.domain import membership as aggregate
from onboarding.domain import memberships as machine
from onboarding.domain.applications import ApplicationStatus, Questionnaire
from onboarding.domain.membership import TIER_CORE, TIER_TRIAL, Change, Outcome
from onboarding.domain.memberships import IllegalTransition, Status
from onboarding.domain.moderation import MuteReasons, resting_status
from onboarding.domain.routing import (
    ANYONE,
    AutoUpgrade,
    Candidate,
    placement_order,
    reminder_times,
)
from onboarding.domain.terms import PaidTerms, TermKind
from onboarding.orm import (
    Community,
    Group,
    Member,
    MemberLevel,
    Membership,
    Payment,
    RenewalReminder,
    RoutingCode,
)
from onboarding.permissions import Permission, authorize
from onboarding.repository import After, EntryContext, Repository
from onboarding.seating import (
    NewGroup,
    Seat,
    candidate_of,
    claim_seat,
    open_group,
    open_overflow_ahead,
)
from servicekit.auth import Principal
from servicekit.db import is_retryable, read_only, transaction
from servicekit.outbox import add_event, add_events
from servicekit.problems import Problem, not_found
from servicekit.timers import Timer, cancel, schedule
from servicekit.types import utcnow

T = TypeVar("T")
ENDED = aggregate.ENDED

MANAGE_COMMUNITY = Permission.MANAGE_COMMUNITY
EXPIRY_TIMER = "membership.expiry"
REMINDER_TIMER = "membership.renewal_reminder"
DEFAULT_REMINDER_DAYS = (7, 1)


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
    guest_speaker_limit: int = 10  # 嘉宾 at a time (roles.py)
    value_statement: str = ""  # 定位: who the community is for and what it gives them
    settings: dict[str, Any] = field(default_factory=dict)  # free-form, for the apps
    renewal_reminder_days: list[int] = field(default_factory=lambda: list(DEFAULT_REMINDER_DAYS))
    auto_upgrade: dict[str, Any] | None = None  # domain.routing.AutoUpgrade as JSON


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
    accepted_rules_version: int | None = None  # the member accepted these rules in the app


@dataclass(frozen=True)
class Joined:
    membership: Membership
    created: bool  # False when the member already belonged (the join was a no-op)
    seat: Seat | None = None
    candidate: Candidate = ANYONE


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
                    await open_group(session, community, group, routing_code_id=None)
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
                group = await open_group(session, community, draft, routing_code_id=None)
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

    async def update_community(
        self, principal: Principal, community_id: str, changes: Mapping[str, Any]
    ) -> Community:
        """Change settings (PATCH): only the fields given; paid terms apply to future payments.

        Publishes community.updated with the names of the fields that really changed (none:
        nothing is written). A slug another community has is a 409.
        """
        tenant_id = principal.tenant_id
        try:
            async with transaction(self.sessions) as session:
                community = await Repository(session).community(tenant_id, community_id)
                if community is None:
                    raise not_found("community")
                actor = await authorize(session, principal, community_id, MANAGE_COMMUNITY)
                changed = [k for k, v in changes.items() if getattr(community, k) != v]
                if not changed:
                    return community
                if TERM_FIELDS.intersection(changed):
                    _check_terms(_terms_after(community, changes))
                for name in changed:
                    setattr(community, name, changes[name])
                await session.flush()  # a taken slug fails here, inside the try
                await add_event(session, events.community_updated(community, changed, utcnow()))
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "community.updated",
                    target_kind="community",
                    target_id=community.id,
                    community_id=community.id,
                    details={"changes": changed},
                )
                return community
        except IntegrityError as error:
            slug = changes.get("slug")
            raise conflict(
                "slug-taken", "Slug taken", f"a community is already {slug!r}"
            ) from error

    async def update_group(
        self, principal: Principal, community_id: str, group_id: str, changes: Mapping[str, Any]
    ) -> Group:
        """Rename, resize (never below the members seated: 409) or change requirements.

        Members already seated stay when they no longer meet new requirements: placement
        checks them on the way in only, like the level gate.
        """
        tenant_id = principal.tenant_id
        try:
            async with transaction(self.sessions) as session:
                repo = Repository(session)
                if await repo.community(tenant_id, community_id) is None:
                    raise not_found("community")
                actor = await authorize(session, principal, community_id, MANAGE_COMMUNITY)
                group = await repo.group(tenant_id, community_id, group_id)
                if group is None:
                    raise not_found("group")
                changed = [k for k, v in changes.items() if getattr(group, k) != v]
                if not changed:
                    return group
                await _apply_group_changes(session, group, {k: changes[k] for k in changed})
                await add_event(session, events.group_updated(group, changed, utcnow()))
                await audit.record(
                    session,
                    tenant_id,
                    actor,
                    "group.updated",
                    target_kind="group",
                    target_id=group.id,
                    community_id=community_id,
                    details={"changes": changed},
                )
                return group
        except IntegrityError as error:
            name = changes.get("name")
            raise conflict(
                "group-name-taken", "Group name taken", f"the community has a {name!r}"
            ) from error

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

    async def join(
        self,
        tenant_id: str,
        member_id: str,
        community_id: str,
        accepted_rules_version: int | None = None,
    ) -> Joined:
        """A member joins a public community directly (open → active; paid → trial or payment)."""

        async def direct(_: AsyncSession) -> tuple[str, Source]:
            return community_id, Source(kind="open")

        return await self._join(tenant_id, member_id, direct, True, accepted_rules_version)

    async def join_by_code(
        self, tenant_id: str, member_id: str, code: str, accepted_rules_version: int | None = None
    ) -> Joined:
        """A member scanned a routing code: any visibility; placed in the code's groups."""

        loaded: list[object] = []

        async def by_code(session: AsyncSession) -> tuple[str, Source]:
            found = await Repository(session).routing_code_and_community(tenant_id, code)
            if found is None:
                raise not_found("routing code")
            # The session's identity map holds objects weakly: this reference keeps the code
            # and its community there for the join and its seat, which would read them again.
            loaded.extend(found)
            routing_code = found[0]
            source = Source(
                kind="routing_code",
                code=routing_code.code,
                channel=routing_code.channel,
                routing_code_id=routing_code.id,
            )
            return routing_code.community_id, source

        return await self._join(tenant_id, member_id, by_code, False, accepted_rules_version)

    async def _join(
        self,
        tenant_id: str,
        member_id: str,
        way_in: Callable[[AsyncSession], Awaitable[tuple[str, Source]]],
        public_only: bool,
        accepted_rules_version: int | None,
    ) -> Joined:
        """``way_in`` names the community and the source inside the join's own transaction
        (a code looked up there is then in the session for seating: no second read)."""
        # Two concurrent first joins of one member collide on the unique membership key;
        # the retry finds the winner's row and answers as a repeated join. A deadlock the
        # lock order should prevent (see seating) is retried too, never answered as a 500.
        for attempt in (1, 2, 3):
            try:
                async with transaction(self.sessions) as session:
                    community_id, source = await way_in(session)
                    joined = await _join_in(
                        session,
                        tenant_id,
                        member_id,
                        community_id,
                        source,
                        public_only,
                        accepted_rules_version,
                    )
                break
            except IntegrityError:
                if attempt == 3:
                    raise
            except DBAPIError as error:
                if attempt == 3 or not is_retryable(error):
                    raise
        if joined.seat is not None and joined.seat.low_code_id is not None:
            await open_overflow_ahead(
                self.sessions, tenant_id, joined.seat.low_code_id, joined.candidate
            )
        return joined

    async def leave(self, tenant_id: str, member_id: str, community_id: str) -> Membership:
        async with transaction(self.sessions) as session:
            membership = await Repository(session).membership_of(tenant_id, community_id, member_id)
            if membership is None:
                raise not_found("membership")
            if Status(membership.status) == Status.PENDING_APPLICATION:
                await _withdraw_application(session, membership)
            await save(session, membership, decide(aggregate.leave, state_of(membership)))
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
            await check_entry(repo, community, payment.member_id, payment.accepted_rules_version)
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
        change = decide(aggregate.refund, state_of(membership), payment.refund_window_ends_at, now)
        await save(session, membership, change, now)
        payment.refunded_at = now
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

TERM_FIELDS = frozenset(
    {
        "price_cents",
        "currency",
        "term_kind",
        "term_days",
        "term_fixed_ends_at",
        "trial_days",
        "refund_window_hours",
    }
)


def _terms_after(community: Community, changes: Mapping[str, Any]) -> NewCommunity:
    """The community's terms as they would be after ``changes``, to check like a creation."""
    terms = {name: changes.get(name, getattr(community, name)) for name in TERM_FIELDS}
    return NewCommunity(
        slug=community.slug, name=community.name, join_policy=community.join_policy, **terms
    )


async def _apply_group_changes(
    session: AsyncSession, group: Group, changes: Mapping[str, Any]
) -> None:
    if "capacity" in changes:
        capacity = changes["capacity"]
        if not await Repository(session).set_capacity(group.id, capacity):
            raise conflict(
                "capacity-below-members",
                "Capacity below members",
                f"the group seats {group.member_count} members: capacity {capacity} is too small",
            )
        set_committed_value(group, "capacity", capacity)  # written above, conditionally
    for name, value in changes.items():
        if name != "capacity":
            setattr(group, name, value)
    await session.flush()  # a taken name fails here, inside the caller's try


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


async def upsert_member(
    session: AsyncSession, tenant_id: str, external_id: str, profile: dict[str, Any]
) -> None:
    """gateway's member.identified: merge the profile (an unchanged one emits nothing).

    The directory's batch upsert with one row; the gateway's profile is not held to the
    API's size bounds (it was accepted there already).
    """
    row = MemberUpsert(external_id, profile=profile)
    await upsert_members(session, tenant_id, [row], bounded=False)


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
    """A membership row written now (a caller that needs its id in the database at once)."""
    await _ensure_member(session, tenant_id, member_id)
    membership = membership_row(tenant_id, community_id, member_id, status, source)
    session.add(membership)
    await session.flush()
    return membership


def membership_row(
    tenant_id: str, community_id: str, member_id: str, status: Status, source: Source
) -> Membership:
    """A new membership, not yet in the session: the join adds it once, in its final state."""
    now = utcnow()
    membership = Membership(
        id=new_id(),
        tenant_id=tenant_id,
        community_id=community_id,
        member_id=member_id,
        status=status,
        tier=TIER_CORE,
        group_id=None,
        mentor_id=None,
        muted_until=None,
        rules_muted=False,
        trial_used=False,
        activated_at=None,
        term_ends_at=None,
        refund_window_ends_at=None,
        created_at=now,
        status_changed_at=now,
    )
    record_source(membership, source)
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
    accepted_rules_version: int | None = None,
) -> Joined:
    repo = Repository(session)
    community = await repo.community(tenant_id, community_id)
    if community is None:
        raise not_found("community")
    # One read for the gate, the seat and the welcome; the membership row itself only when
    # there is one (a first join, the common case, finds none and inserts it at the end).
    context = await repo.entry_context(tenant_id, community.id, member_id, community.rules_version)
    membership = None
    if context.membership_id is not None:
        membership = await repo.membership_of(tenant_id, community_id, member_id)
    if public_only and community.visibility != "public" and not membership:
        raise not_found("community")
    if not reusable(membership):
        assert membership is not None
        return Joined(membership, created=False)  # already in (or on the way in): a no-op
    context = await check_entry(repo, community, member_id, accepted_rules_version, context)
    if community.application_form is not None:
        raise application_required(
            "apply with answers (and the code that brought you, if any): "
            f"POST /v1/onboarding/communities/{community.id}/applications"
        )
    if membership is None:
        if not context.member_known:
            await _ensure_member(session, tenant_id, member_id)
        membership = membership_row(
            tenant_id, community.id, member_id, Status.PENDING_PAYMENT, source
        )
    else:
        record_source(membership, source)
    seat = await enter(session, community, membership, context)
    return Joined(membership, True, seat, candidate_of(membership, context))


def reusable(membership: Membership | None) -> bool:
    """May a join (re)start this membership? False: the member is already in, or on the way
    in (a join is then a no-op). A banned member is refused."""
    return decide(aggregate.may_start, state_of(membership))


async def check_entry(
    repo: Repository,
    community: Community,
    member_id: str,
    accepted_rules_version: int | None,
    context: EntryContext | None = None,
) -> EntryContext:
    """The gate every way in passes (join, code, invite, application, first payment):
    no tenant-wide ban, the current rules accepted (recorded as accepted), the level gate.
    Returns what it read of the member (``context``, if the caller read it already), for
    seating and the welcome."""
    current = community.rules_version
    if context is None:
        context = await repo.entry_context(community.tenant_id, community.id, member_id, current)
    if context.banned:
        raise Problem(403, "banned", "Banned", "you are banned from this tenant's communities")
    if current is not None:
        if accepted_rules_version != current:
            raise rules_not_accepted(current)
        if not context.accepted_rules:
            await accept_rules(repo.session, community, member_id, current)
            context = replace(context, accepted_rules=True)
        # A rules mute from an earlier stay ends: the member accepted the current rules now.
        await repo.clear_rules_mute(community.tenant_id, community.id, member_id)
    check_level(community, context.level)
    return context


def rules_not_accepted(current: int) -> Problem:
    return Problem(
        409,
        "rules-not-accepted",
        "Rules not accepted",
        f"accept the community's rules version {current} (accepted_rules_version)",
        current_version=current,
    )


async def accept_rules(
    session: AsyncSession, community: Community, member_id: str, version: int
) -> bool:
    """Record the acceptance, once per version: True when it was new (``rules.accepted``
    is published then)."""
    now = utcnow()
    repo = Repository(session)
    if not await repo.insert_acceptance_if_absent(
        community.tenant_id, community.id, member_id, version, now
    ):
        return False
    event = events.rules_accepted(community.tenant_id, community.id, member_id, version, now)
    await add_event(session, event)
    return True


def check_level(community: Community, level: int) -> None:
    """A level-gated community admits members whom rewards reported at its level or above."""
    if community.min_level is None:
        return
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


async def enter(
    session: AsyncSession,
    community: Community,
    membership: Membership,
    context: EntryContext | None = None,
) -> Seat | None:
    """Past the gate: open → active; paid → a free trial if the member never had one, else
    pending_payment (domain.membership.enter decides). The seat taken, if any."""
    now = utcnow()
    change = decide(aggregate.enter, state_of(membership), paid_terms(community), now)
    await save(session, membership, change, now)
    if change.outcome in (Outcome.ARRIVED, Outcome.UPGRADED):
        return await _activated(session, community, membership, change, context, now)
    if membership not in session:
        session.add(membership)
    return None


async def _apply_payment(
    session: AsyncSession,
    membership: Membership,
    terms: PaidTerms,
    confirmation: PaymentConfirmation,
) -> tuple[Membership, Payment]:
    now = utcnow()
    before = state_of(membership)
    change = decide(aggregate.pay, before, terms, now)
    assert change.period is not None
    payment = Payment(
        id=new_id(),
        tenant_id=membership.tenant_id,
        membership_id=membership.id,
        reference=confirmation.reference,
        amount_cents=confirmation.amount_cents,
        currency=confirmation.currency.upper(),
        paid_at=now,
        refund_window_ends_at=change.period.refund_window_ends_at,
        refunded_at=None,
    )
    session.add(payment)
    from_group = membership.group_id
    await save(session, membership, change, now)
    if change.outcome == Outcome.RENEWED:
        await schedule_expiry(session, membership)
        await add_event(session, events.membership_renewed(membership, payment.id, now))
    else:
        repo = Repository(session)
        community = await repo.community(membership.tenant_id, membership.community_id)
        assert community is not None
        await _activated(session, community, membership, change, None, now)
        await _upgrade_after_payment(session, membership, before, from_group)
    return membership, payment


async def _activated(
    session: AsyncSession,
    community: Community,
    membership: Membership,
    change: Change,
    context: EntryContext | None,
    now: datetime,
) -> Seat | None:
    """Into trial or active (already saved): the expiry timer and membership.activated; an
    arrival (not trial → paid) also gets a mentor, a seat and a welcome. The seat is taken
    last, just before the membership row and the events are written, so the group's row
    lock is held for the fewest statements."""
    if membership.term_ends_at is not None:
        await schedule_expiry(session, membership)
    seat = None
    if change.outcome == Outcome.ARRIVED:
        if context is None:
            context = await Repository(session).entry_context(
                membership.tenant_id, community.id, membership.member_id, community.rules_version
            )
        if context.has_mentors:
            await roles.assign_mentor(session, membership)
        if community.rules_version is not None and not context.accepted_rules:
            # Entered before the current rules were published (waiting for a payment or a
            # review, past the gate already): muted for rules until they accept.
            membership.rules_muted = True
        seat = await seating.seat(session, membership, candidate_of(membership, context))
        membership.group_id = seat.group_id if seat else None
    if membership not in session:
        session.add(membership)
    activated = events.membership_activated(membership)
    if change.outcome != Outcome.ARRIVED:
        await add_event(session, activated)
    elif membership.mentor_id is not None:  # the mentor's name is read for the welcome
        await add_event(session, activated)
        await roles.welcome(session, membership)
    else:
        welcomed = roles.welcome_event(
            membership,
            community,
            display_name=context.display_name if context else None,
            group_name=seat.group_name if seat else None,
            mentor_name=None,
            at=now,
        )
        await add_events(session, [activated, welcomed])
    await settle_mute(session, membership, now)  # a mute running from an earlier stay holds
    return seat


async def settle_mute(
    session: AsyncSession, membership: Membership, now: datetime, *, cause: str = "mute_ended"
) -> None:
    """Put a seated member where their mute reasons say: muted iff one holds
    (domain.moderation). Publishes membership.muted / .unmuted (``cause`` of an unmute)."""
    current = Status(membership.status)
    if not machine.holds_seat(current):
        return
    reasons = MuteReasons(membership.muted_until, membership.rules_muted)
    target = resting_status(membership.tier, reasons, now)
    if target == current:
        return
    await move(session, membership, target, now)
    if target == Status.MUTED:
        why = "sanction" if reasons.sanction_holds(now) else "rules"
        await add_event(session, events.membership_muted(membership, why, now))
    else:
        await add_event(session, events.membership_unmuted(membership, cause, now))


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
        await _leave_seat(session, membership, target)
    membership.status = target
    membership.status_changed_at = now or utcnow()


async def _leave_seat(session: AsyncSession, membership: Membership, status: Status) -> None:
    """Out of the seated statuses: the group seat is freed and roles end (they need one)."""
    await seating.unseat(session, membership)
    await roles.end_roles(session, membership, status)


# ---------------------------------------------------------------- the aggregate, saved


def state_of(membership: Membership | None) -> aggregate.Membership:
    if membership is None:
        return aggregate.NEW
    return aggregate.Membership(
        status=Status(membership.status),
        tier=membership.tier,
        trial_used=membership.trial_used,
        activated_at=membership.activated_at,
        term_ends_at=membership.term_ends_at,
        refund_window_ends_at=membership.refund_window_ends_at,
    )


def decide(rule: Callable[..., T], *args: Any) -> T:
    """Run one of the aggregate's rules; what it refuses answers as a problem."""
    try:
        return rule(*args)
    except aggregate.Refused as refused:
        raise Problem(refused.status, refused.slug, refused.title, refused.detail) from refused


async def save(
    session: AsyncSession, membership: Membership, change: Change, now: datetime | None = None
) -> None:
    """Write the aggregate's new state to the row; leaving a seat frees it and ends roles."""
    after = change.after
    assert after.status is not None
    if change.frees_seat:
        await _leave_seat(session, membership, after.status)
    membership.status = after.status
    membership.tier = after.tier
    membership.trial_used = after.trial_used
    membership.activated_at = after.activated_at
    membership.term_ends_at = after.term_ends_at
    membership.refund_window_ends_at = after.refund_window_ends_at
    if change.status_changed:
        membership.status_changed_at = now or utcnow()


async def schedule_expiry(session: AsyncSession, membership: Membership) -> None:
    assert membership.term_ends_at is not None
    payload = {"tenant_id": membership.tenant_id, "membership_id": membership.id}
    await schedule(session, EXPIRY_TIMER, membership.id, membership.term_ends_at, payload)
    await _schedule_reminders(session, membership)


# ---------------------------------------------------------------- timers


async def expire_membership(session: AsyncSession, timer: Timer) -> None:
    """Timer: a trial or a term ended (a renewal moves the timer and the term together)."""
    repo = Repository(session)
    membership = await repo.membership(timer.payload["tenant_id"], timer.payload["membership_id"])
    if membership is None:
        return
    change = aggregate.expire(state_of(membership), timer.due_at)
    if change.outcome != Outcome.EXPIRED:
        return  # refunded, left, removed or renewed meanwhile: nothing to expire
    now = utcnow()
    await save(session, membership, change, now)
    await add_event(session, events.membership_expired(membership, membership.tier, now))


# ---------------------------------------------------------------- trial → core


async def _upgrade_after_payment(
    session: AsyncSession,
    membership: Membership,
    before: aggregate.Membership,
    from_group: str | None,
) -> None:
    """A payment activated the member: trial → core is a tier change, and a community that
    upgrades on payment moves them out of a trial group. Never fails the payment."""
    community = await Repository(session).community(membership.tenant_id, membership.community_id)
    assert community is not None
    upgrade = AutoUpgrade.of(community.auto_upgrade)
    moved_from = None
    if upgrade is not None and upgrade.on_payment():
        moved_from = await _upgrade_group(session, membership, upgrade)
    was_trial = before.status == Status.TRIAL and before.tier == TIER_TRIAL
    if was_trial or moved_from:
        event = events.membership_tier_changed(
            membership,
            from_tier=before.tier if was_trial else membership.tier,
            from_group_id=moved_from or from_group,
            reason="payment",
            at=utcnow(),
        )
        await add_event(session, event)


async def upgrade_on_level(session: AsyncSession, tenant_id: str, member_id: str) -> None:
    """rewards reported a level: the member leaves the trial groups of communities that
    upgrade at that level (when a group of the target kind has room and admits them)."""
    repo = Repository(session)
    known = await repo.member_level(tenant_id, member_id)
    level = known.level if known else levels.BASE_LEVEL
    for membership, community in await repo.trial_group_seats(tenant_id, member_id):
        upgrade = AutoUpgrade.of(community.auto_upgrade)
        if upgrade is None or not upgrade.on_level(level):
            continue
        moved_from = await _upgrade_group(session, membership, upgrade)
        if moved_from is not None:
            event = events.membership_tier_changed(
                membership,
                from_tier=membership.tier,
                from_group_id=moved_from,
                reason="level",
                at=utcnow(),
            )
            await add_event(session, event)


async def _upgrade_group(
    session: AsyncSession, membership: Membership, upgrade: AutoUpgrade
) -> str | None:
    """Move a member sitting in a trial-kind group to a group of the upgrade's kind that has
    room and admits them: the group they left, or None (they stay where they are)."""
    current = membership.group_id
    group = await session.get(Group, current) if current else None
    if group is None or group.kind != "trial":
        return None
    repo = Repository(session)
    context = await repo.entry_context(
        membership.tenant_id, membership.community_id, membership.member_id, None
    )
    candidate = candidate_of(membership, context)
    loads = await repo.kind_loads(
        membership.tenant_id, membership.community_id, upgrade.to_group_kind
    )
    for load in placement_order(loads, candidate):
        if load.group_id != group.id and await claim_seat(session, membership, load.group_id):
            await repo.free_seat(group.id)
            membership.group_id = load.group_id
            return group.id
    return None


# ---------------------------------------------------------------- renewal reminders


async def _schedule_reminders(session: AsyncSession, membership: Membership) -> None:
    """Timers at term end − N days for the community's offsets still ahead; the ones armed
    for an earlier term end are dropped (and would do nothing anyway)."""
    term_end = membership.term_ends_at
    assert term_end is not None
    community = await Repository(session).community(membership.tenant_id, membership.community_id)
    offsets = community.renewal_reminder_days if community else list(DEFAULT_REMINDER_DAYS)
    await Repository(session).cancel_pending_timers(REMINDER_TIMER, f"{membership.id}:")
    for days in reminder_times(term_end, offsets, utcnow()):
        payload = {
            "tenant_id": membership.tenant_id,
            "membership_id": membership.id,
            "days_before": days,
            "term_ends_at": term_end.isoformat(),
        }
        key = f"{membership.id}:{days}:{term_end.isoformat()}"
        await schedule(session, REMINDER_TIMER, key, term_end - timedelta(days=days), payload)


async def remind_renewal(session: AsyncSession, timer: Timer) -> None:
    """Timer: membership.renewal_due, if the member still holds a seat and the term still
    ends when the timer was armed for; once per membership, term end and offset."""
    payload = timer.payload
    repo = Repository(session)
    membership = await repo.membership(payload["tenant_id"], payload["membership_id"])
    if membership is None or not machine.holds_seat(Status(membership.status)):
        return
    armed_for = datetime.fromisoformat(payload["term_ends_at"])
    if membership.term_ends_at != armed_for:
        return  # renewed (or refunded and back) since: a newer timer reminds
    days = int(payload["days_before"])
    now = utcnow()
    sent = RenewalReminder(
        membership_id=membership.id,
        term_ends_at=armed_for,
        days_before=days,
        tenant_id=membership.tenant_id,
        sent_at=now,
    )
    if await repo.insert_reminder_if_absent(sent):
        await add_event(session, events.membership_renewal_due(membership, days, now))
