"""Who may call what: member tokens for members, the roles gateway tokens carry for
operators. Activity officers (活动官) run campaigns with the tenant's owner, admins and
operators; content officers may read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.auth import CurrentPrincipal, Principal
from servicekit.problems import Problem
from servicekit.types import utcnow

RUNNERS = ("owner", "admin", "operator", "activity_officer")  # set campaigns up
READERS = (*RUNNERS, "content_officer")  # read every campaign of the tenant


async def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """The entry point opens the use case's transaction from these."""
    return request.app.state.sessions  # type: ignore[no-any-return]


async def now(request: Request) -> datetime:
    """The current instant: ``app.state.clock`` when a test set one, else the wall clock
    (moved by the development-only offset file when one is configured)."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    if clock is not None:
        return clock()
    path = getattr(request.app.state.settings, "clock_offset_file", None)
    return utcnow() + timedelta(seconds=_offset(path)) if path else utcnow()


def _offset(path: str) -> float:
    try:
        return float(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(sessions)]
Now = Annotated[datetime, Depends(now)]


def is_member(principal: Principal) -> bool:
    return principal.token_type == "member"


def is_operator(principal: Principal, *roles: str) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*roles)


async def member(principal: CurrentPrincipal) -> Principal:
    if not is_member(principal):
        raise Problem(403, "forbidden", "Forbidden", "member tokens only")
    return principal


def operator(*roles: str) -> Any:
    async def check(principal: CurrentPrincipal) -> Principal:
        if not is_operator(principal, *roles):
            raise Problem(403, "forbidden", "Forbidden", "your role does not allow this")
        return principal

    return Depends(check)


async def member_or_reader(principal: CurrentPrincipal) -> Principal:
    if is_member(principal) or is_operator(principal, *READERS):
        return principal
    raise Problem(403, "forbidden", "Forbidden", "a member token or an activity role is needed")


Member = Annotated[Principal, Depends(member)]
Runner = Annotated[Principal, operator(*RUNNERS)]
Anyone = Annotated[Principal, Depends(member_or_reader)]
Responses = dict[int | str, dict[str, Any]]  # OpenAPI responses of a route
