"""Members' own invite links (invites.domain): eligibility, limits, terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboarding.invites.domain import (
    Inviter,
    MemberInvitePolicy,
    check_member_invite,
    link_expiry,
)
from onboarding.membership.domain import Refused
from onboarding.membership.states import Status

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def slug(policy: MemberInvitePolicy, inviter: Inviter) -> tuple[int, str]:
    with pytest.raises(Refused) as refused:
        check_member_invite(policy, inviter)
    return refused.value.status, refused.value.slug


def test_the_defaults_let_active_members_hold_five_links() -> None:
    policy = MemberInvitePolicy()
    check_member_invite(policy, Inviter(Status.ACTIVE, level=1, active_links=4))
    assert slug(policy, Inviter(Status.ACTIVE, 1, 5)) == (409, "invite-limit-reached")
    assert slug(policy, Inviter(Status.TRIAL, 1, 0)) == (403, "invite-not-eligible")
    assert slug(policy, Inviter(Status.MUTED, 1, 0)) == (403, "invite-not-eligible")
    assert slug(policy, Inviter(None, 1, 0)) == (403, "invite-not-eligible")
    assert link_expiry(policy, NOW) is None and policy.max_uses is None


def test_a_community_sets_level_trial_members_and_terms() -> None:
    policy = MemberInvitePolicy(min_level=3, trial_members=True, max_uses=10, valid_days=7)
    assert slug(policy, Inviter(Status.ACTIVE, 2, 0)) == (403, "invite-level-too-low")
    check_member_invite(policy, Inviter(Status.TRIAL, 3, 0))
    assert link_expiry(policy, NOW) == NOW + timedelta(days=7)
    off = MemberInvitePolicy(enabled=False)
    assert slug(off, Inviter(Status.ACTIVE, 9, 0)) == (403, "member-invites-disabled")


def test_the_stored_policy_round_trips_and_ignores_unknown_keys() -> None:
    policy = MemberInvitePolicy(max_active_links=2, min_level=4)
    assert MemberInvitePolicy.of(policy.to_json()) == policy
    assert MemberInvitePolicy.of(None) == MemberInvitePolicy()
    assert MemberInvitePolicy.of({"max_active_links": 1, "later": True}).max_active_links == 1


@given(
    enabled=st.booleans(),
    trial_members=st.booleans(),
    min_level=st.none() | st.integers(1, 10),
    limit=st.integers(1, 5),
    status=st.none() | st.sampled_from(list(Status)),
    level=st.integers(1, 10),
    links=st.integers(0, 6),
)
def test_a_link_is_allowed_exactly_when_every_condition_holds(
    enabled: bool,
    trial_members: bool,
    min_level: int | None,
    limit: int,
    status: Status | None,
    level: int,
    links: int,
) -> None:
    policy = MemberInvitePolicy(enabled, limit, min_level, trial_members)
    statuses = {Status.ACTIVE, Status.TRIAL} if trial_members else {Status.ACTIVE}
    allowed = (
        enabled
        and status in statuses
        and (min_level is None or level >= min_level)
        and links < limit
    )
    try:
        check_member_invite(policy, Inviter(status, level, links))
    except Refused as refused:
        assert not allowed
        # Not allowed at all is 403; allowed but at the limit is the 409.
        assert refused.status == (409 if refused.slug == "invite-limit-reached" else 403)
    else:
        assert allowed
