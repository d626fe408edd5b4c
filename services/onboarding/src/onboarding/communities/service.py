"""Use cases of communities and their groups: operators create and configure them.

One transaction per use case. Members already seated stay when a group's requirements
change: placement checks them on the way in only, like the level gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from onboarding import events
from onboarding.applications.domain import Questionnaire
from onboarding.audit import service as audit
from onboarding.audit.service import Actor
from onboarding.communities.repository import CommunityRepository
from onboarding.ids import new_id
from onboarding.joins import seating
from onboarding.joins.seating import NewGroup, open_group
from onboarding.membership.repository import Repository
from onboarding.orm import Community, Group
from onboarding.payments.domain import DEFAULT_REMINDER_DAYS, PaidTerms, TermKind
from onboarding.permissions import Permission, authorize
from onboarding.problems import conflict, unprocessable
from onboarding.queries import After
from servicekit.auth import Principal
from servicekit.db import read_only, transaction
from servicekit.outbox import add_event
from servicekit.problems import not_found
from servicekit.types import utcnow

MANAGE_COMMUNITY = Permission.MANAGE_COMMUNITY


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
    guest_speaker_limit: int = 10  # 嘉宾 at a time (roles/service.py)
    value_statement: str = ""  # 定位: who the community is for and what it gives them
    settings: dict[str, Any] = field(default_factory=dict)  # free-form, for the apps
    renewal_reminder_days: list[int] = field(default_factory=lambda: list(DEFAULT_REMINDER_DAYS))
    auto_upgrade: dict[str, Any] | None = None  # joins.domain.AutoUpgrade as JSON


class Communities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

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
                await CommunityRepository(session).communities_page(
                    tenant_id, visible_to=visible_to, after=after, limit=limit
                )
            )

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

    async def groups(
        self, tenant_id: str, community_id: str, *, after: After | None, limit: int
    ) -> list[Group]:
        async with read_only(self.sessions) as session:
            repo = Repository(session)
            if await repo.community(tenant_id, community_id) is None:
                raise not_found("community")
            return list(
                await CommunityRepository(session).groups_page(
                    tenant_id, community_id, after=after, limit=limit
                )
            )

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
                group = await CommunityRepository(session).group(tenant_id, community_id, group_id)
                if group is None:
                    raise not_found("group")
                changed = [k for k, v in changes.items() if getattr(group, k) != v]
                if not changed:
                    return group
                await _apply_group_changes(session, group, {k: changes[k] for k in changed})
                await add_event(session, events.group_updated(group, changed, utcnow()))
                if ROOM_FIELDS & set(changed):  # room may have opened for members waiting
                    await seating.seat_waiting(session, group)
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


# Group changes that may let members waiting for a seat in (joins.seating.seat_waiting).
ROOM_FIELDS = frozenset({"capacity", "min_tier", "min_level"})

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
        if not await CommunityRepository(session).set_capacity(group.id, capacity):
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
