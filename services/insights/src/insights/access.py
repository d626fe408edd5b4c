"""Who may read which figures, and "now".

Owners and admins of the tenant (access tokens) read every community; a member holding a
community role of admin or owner (granted in onboarding) reads their communities with
their member token. Anyone else: 403. Another tenant's community is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from insights.communities.domain import TENANT_ROLES
from servicekit.app import Sessions as Sessions
from servicekit.auth import CurrentPrincipal, Principal, is_member, is_operator, operator_with
from servicekit.problems import Problem
from servicekit.types import utcnow


async def now(request: Request) -> datetime:
    """``app.state.clock`` when a test set one, else the service's clock."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    if clock is not None:
        return clock()
    return clock_of(getattr(request.app.state.settings, "clock_offset_file", None))()


def clock_of(offset_file: str | None) -> Callable[[], datetime]:
    """The wall clock, moved by the development-only offset file when one is configured
    (the routes' "now" and the silence timers' alike)."""
    if not offset_file:
        return utcnow
    return lambda: utcnow() + timedelta(seconds=_offset(offset_file))


def _offset(path: str) -> float:
    try:
        return float(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


async def viewer(principal: CurrentPrincipal) -> Principal:
    """An owner or admin, or a member (whose community roles decide what they see)."""
    if is_member(principal) or is_operator(principal, *TENANT_ROLES):
        return principal
    raise Problem(403, "forbidden", "Forbidden", "owners, admins or community admins only")


Now = Annotated[datetime, Depends(now)]
Viewer = Annotated[Principal, Depends(viewer)]
TenantAdmin = Annotated[Principal, operator_with(*TENANT_ROLES)]
__all__ = ["Now", "Sessions", "TenantAdmin", "Viewer", "clock_of", "now"]
