"""Use cases of joins: a member joins directly or through a routing code (群活码), and
leaves; operators create routing codes. The hot path: one transaction, the seat taken last
(see seating.py for the lock order).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from onboarding import events
from onboarding.applications.service import withdraw_application
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.communities.repository import CommunityRepository
from onboarding.ids import new_id
from onboarding.joins.repository import JoinRepository
from onboarding.joins.seating import candidate_of, open_overflow_ahead
from onboarding.membership import domain as aggregate
from onboarding.membership.repository import Repository
from onboarding.membership.service import (
    Joined,
    Source,
    check_entry,
    decide,
    ensure_member,
    enter,
    membership_row,
    record_source,
    reusable,
    save,
    state_of,
)
from onboarding.membership.states import Status
from onboarding.orm import Membership, RoutingCode
from onboarding.problems import application_required, conflict, unprocessable
from onboarding.queries import After
from servicekit.db import is_retryable, read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import not_found
from servicekit.types import utcnow


@dataclass(frozen=True)
class NewRoutingCode:
    community_id: str
    code: str
    group_ids: list[str]
    channel: str | None = None
    overflow_prefix: str = ""
    overflow_kind: str = "core"
    overflow_capacity: int = 500


class Joins:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def create_routing_code(
        self, tenant_id: str, draft: NewRoutingCode, *, actor: Actor
    ) -> RoutingCode:
        try:
            async with transaction(self.sessions) as session:
                repo = Repository(session)
                if await repo.community(tenant_id, draft.community_id) is None:
                    raise not_found("community")
                groups = await CommunityRepository(session).groups(tenant_id, draft.community_id)
                known = {g.id for g in groups}
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

    async def set_default_code(
        self, tenant_id: str, community_id: str, code_id: str | None, *, actor: Actor
    ) -> str | None:
        """The routing code that seats members whose way in names no group (null: none)."""
        async with transaction(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
            if community is None:
                raise not_found("community")
            if code_id is not None:
                code = await JoinRepository(session).routing_code_by_id(tenant_id, code_id)
                if code is None or code.community_id != community_id:
                    raise unprocessable(
                        "routing-code-mismatch",
                        "Not a routing code of this community",
                        "routing_code_id is not a routing code of this community",
                    )
            community.default_routing_code_id = code_id
            await audit.record(
                session,
                tenant_id,
                actor,
                "community.default_routing_code_set",
                target_kind="community",
                target_id=community_id,
                community_id=community_id,
                details={"routing_code_id": code_id},
            )
        return code_id

    async def default_code(self, tenant_id: str, community_id: str) -> str | None:
        async with read_only(self.sessions) as session:
            community = await Repository(session).community(tenant_id, community_id)
        if community is None:
            raise not_found("community")
        return community.default_routing_code_id

    async def routing_codes(
        self, tenant_id: str, *, community_id: str | None, after: After | None, limit: int
    ) -> list[RoutingCode]:
        async with read_only(self.sessions) as session:
            return list(
                await JoinRepository(session).routing_codes_page(
                    tenant_id, community_id=community_id, after=after, limit=limit
                )
            )

    async def routing_code(self, tenant_id: str, code_id: str) -> RoutingCode:
        async with read_only(self.sessions) as session:
            code = await JoinRepository(session).routing_code_by_id(tenant_id, code_id)
        if code is None:
            raise not_found("routing code")
        return code

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
            found = await JoinRepository(session).routing_code_and_community(tenant_id, code)
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
                await withdraw_application(session, membership)
            await save(session, membership, decide(aggregate.leave, state_of(membership)))
            await add_event(
                session, events.membership_left(membership, membership.status_changed_at)
            )
            return membership


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
            await ensure_member(session, tenant_id, member_id)
        membership = membership_row(
            tenant_id, community.id, member_id, Status.PENDING_PAYMENT, source
        )
    else:
        record_source(membership, source)
    seat = await enter(session, community, membership, context)
    return Joined(membership, True, seat, candidate_of(membership, context))
