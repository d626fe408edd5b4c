"""Communities' use cases: their zones (and moving every fact to its local day when a zone
changes), silence settings, community roles, and which communities a caller may read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from insights.communities import domain
from insights.communities.repository import CommunityRepository, CommunityRow
from insights.figures.repository import FactRepository
from servicekit.auth import Principal, is_member, is_operator
from servicekit.problems import Problem, not_found


@dataclass(frozen=True)
class Config:
    zone: ZoneInfo
    settings: domain.CommunitySettings


def config_of(row: CommunityRow | None) -> Config:
    if row is None:
        return Config(domain.zone(None), domain.DEFAULTS)
    settings = domain.effective(row.silent_after_days, row.holdout_percent)
    return Config(domain.zone(row.timezone), settings)


async def configs(
    session: AsyncSession, tenant_id: str, community_ids: Iterable[str], *, ensure: bool = False
) -> dict[str, Config]:
    """Every named community's zone and settings (the defaults for an unknown one);
    ``ensure``: communities named before their own event arrived become known (in the
    default zone, until it does)."""
    wanted = set(community_ids)
    repo = CommunityRepository(session)
    rows = await repo.of(tenant_id, wanted)
    if ensure and wanted - rows.keys():
        await repo.ensure(tenant_id, wanted - rows.keys())
    return {c: config_of(rows.get(c)) for c in wanted}


async def announce(
    session: AsyncSession,
    tenant_id: str,
    community_id: str,
    name: str | None,
    timezone: str | None,
    at: datetime,
) -> bool:
    """community.created/updated: the name and the zone, the newest announcement winning.
    A changed zone moves every fact of the community to its local day; True then (the
    caller re-arms the silence timers, which fire at a local midnight)."""
    repo = CommunityRepository(session)
    known = (await repo.of(tenant_id, [community_id])).get(community_id)
    if known is not None and known.zone_at is not None and not domain.supersedes(at, known.zone_at):
        return False
    zone_name = timezone or (known.timezone if known else domain.DEFAULT_ZONE)
    named = name or (known.name if known else None)
    await repo.save_zone(tenant_id, community_id, named, zone_name, at)
    if known is not None and known.timezone != zone_name:
        await FactRepository(session).rezone(tenant_id, community_id, domain.zone(zone_name))
        return True
    return False


async def save_settings(
    session: AsyncSession, tenant_id: str, community_id: str, days: int, percent: int
) -> domain.CommunitySettings:
    repo = CommunityRepository(session)
    if community_id not in await repo.of(tenant_id, [community_id]):
        raise not_found("community")
    await repo.save_settings(tenant_id, community_id, days, percent)
    return domain.CommunitySettings(days, percent)


async def readable(
    session: AsyncSession, principal: Principal, wanted: str | None = None
) -> list[CommunityRow]:
    """The communities whose figures ``principal`` may read (``wanted``: that one only;
    404 when it is not among them, so another tenant's ids look like unknown ones)."""
    repo = CommunityRepository(session)
    rows = await repo.all(principal.tenant_id)
    if is_operator(principal, *domain.TENANT_ROLES):
        allowed = rows
    elif is_member(principal):
        grants = await repo.grants_of(principal.tenant_id, principal.subject)
        mine = domain.administered(grants)
        allowed = [row for row in rows if row.community_id in mine]
        if not mine:
            raise Problem(403, "forbidden", "Forbidden", "community admins and operators only")
    else:
        raise Problem(403, "forbidden", "Forbidden", "owners, admins or community admins only")
    if wanted is None:
        return allowed
    found = [row for row in allowed if row.community_id == wanted]
    if not found:
        raise not_found("community")
    return found
