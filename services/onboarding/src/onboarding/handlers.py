"""Event consumers of onboarding: each translates one event into a use case step."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from onboarding.service import upsert_member
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
