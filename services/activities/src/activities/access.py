"""Who may call what: member tokens for members, the roles gateway tokens carry for
operators. Activity officers (活动官) run campaigns with the tenant's owner, admins and
operators; content officers may read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from servicekit.app import Sessions as Sessions
from servicekit.auth import CurrentPrincipal as CurrentPrincipal
from servicekit.auth import Principal as Principal
from servicekit.auth import is_member as is_member
from servicekit.auth import is_operator as is_operator
from servicekit.auth import member_only as member_only
from servicekit.auth import operator_with as operator_with
from servicekit.problems import Problem
from servicekit.types import utcnow

RUNNERS = ("owner", "admin", "operator", "activity_officer")  # set campaigns up
READERS = (*RUNNERS, "content_officer")  # read every campaign of the tenant


async def now(request: Request) -> datetime:
    """The current instant: ``app.state.clock`` when a test set one, else the wall clock
    (moved by the development-only offset file when one is configured)."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    if clock is not None:
        return clock()
    path = getattr(request.app.state.settings, "clock_offset_file", None)
    return utcnow() + timedelta(seconds=_offset(path)) if path else utcnow()


def clock_of(offset_file: str | None) -> Callable[[], datetime]:
    """The timers' "now": the wall clock, moved by the development-only offset file when
    one is configured, so a journey that moves the routes' days moves the timers too."""
    if not offset_file:
        return utcnow
    return lambda: utcnow() + timedelta(seconds=_offset(offset_file))


def _offset(path: str) -> float:
    try:
        return float(Path(path).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


Now = Annotated[datetime, Depends(now)]


async def member_or_reader(principal: CurrentPrincipal) -> Principal:
    if is_member(principal) or is_operator(principal, *READERS):
        return principal
    raise Problem(403, "forbidden", "Forbidden", "a member token or an activity role is needed")


Member = Annotated[Principal, Depends(member_only)]
Runner = Annotated[Principal, operator_with(*RUNNERS)]
Anyone = Annotated[Principal, Depends(member_or_reader)]
