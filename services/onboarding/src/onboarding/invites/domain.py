"""Members' own invite links (个人邀请码, poster codes: how 裂变 spreads): who may create one,
how many at a time, and the terms each link gets. Pure: no clock, no database.

A community's ``MemberInvitePolicy`` (operators set it; absent = the defaults) decides:
members may create links (``enabled``), while ``active`` (trial members too if
``trial_members``), at rewards level ``min_level`` or more, and hold at most
``max_active_links`` links that can still be redeemed (not revoked, expired or used up).
Each link gets the policy's ``max_uses`` (None: unlimited, a poster) and lasts
``valid_days`` (None: until revoked). The inviter is always the member who created it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from onboarding.membership.domain import Refused
from onboarding.membership.states import Status


@dataclass(frozen=True)
class MemberInvitePolicy:
    enabled: bool = True
    max_active_links: int = 5
    min_level: int | None = None
    trial_members: bool = False
    max_uses: int | None = None
    valid_days: int | None = None

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> MemberInvitePolicy:
        """The community's stored policy (JSON); unknown keys are ignored, missing ones are
        the defaults."""
        if not stored:
            return cls()
        known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Inviter:
    """The member asking for a link, as the rules see them."""

    status: Status | None  # None: not a member of the community
    level: int
    active_links: int  # their links that can still be redeemed


def check_member_invite(policy: MemberInvitePolicy, inviter: Inviter) -> None:
    """Refuse (403: not allowed; 409: the limit is reached) or let the member create a link."""
    if not policy.enabled:
        raise Refused(
            403,
            "member-invites-disabled",
            "Member invites disabled",
            "this community does not let members create invite links",
        )
    allowed = {Status.ACTIVE} | ({Status.TRIAL} if policy.trial_members else set())
    if inviter.status not in allowed:
        who = "active members" + (" and trial members" if policy.trial_members else "")
        state = inviter.status or "not a member"
        raise Refused(
            403,
            "invite-not-eligible",
            "Not eligible to invite",
            f"only {who} create invite links (you are {state})",
        )
    if policy.min_level is not None and inviter.level < policy.min_level:
        raise Refused(
            403,
            "invite-level-too-low",
            "Level too low to invite",
            f"invite links need level {policy.min_level} (you are level {inviter.level})",
        )
    if inviter.active_links >= policy.max_active_links:
        raise Refused(
            409,
            "invite-limit-reached",
            "Invite limit reached",
            f"at most {policy.max_active_links} active invite links per member: "
            "revoke one to create another",
        )


def link_expiry(policy: MemberInvitePolicy, now: datetime) -> datetime | None:
    return now + timedelta(days=policy.valid_days) if policy.valid_days is not None else None
