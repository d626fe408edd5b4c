"""What the other features ask of the audience projection."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from content.audience.repository import AudienceRepository
from servicekit.problems import Problem


async def require_communities(session: AsyncSession, tenant_id: str, ids: Iterable[str]) -> None:
    """404 unless every id is a community of the tenant (as onboarding announced it):
    another tenant's ids are as unknown as made-up ones."""
    unknown = await AudienceRepository(session).unknown_communities(tenant_id, ids)
    if unknown:
        raise Problem(
            404,
            "not-found",
            "Not Found",
            f"no such community: {', '.join(sorted(unknown))}",
            community_ids=sorted(unknown),
        )
