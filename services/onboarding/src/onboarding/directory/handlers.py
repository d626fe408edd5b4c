"""Event consumers of the member directory: each translates one event into a use case step."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.directory.service import MemberUpsert, upsert_members
from servicekit.events import Event


async def on_member_identified(session: AsyncSession, event: Event) -> None:
    """gateway.member.identified → the member directory (the runner owns the transaction)."""
    profile = event.data.get("profile")
    await upsert_member(
        session,
        event.tenant_id,
        str(event.data["external_id"]),
        profile if isinstance(profile, dict) else {},
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
