"""Who may call what: member tokens for a member's own things, roles for operators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.auth import CurrentPrincipal, Principal
from servicekit.problems import Problem

READERS = ("owner", "admin", "operator", "activity_officer", "content_officer")
ADJUSTERS = ("owner", "admin", "operator")
MERCHANDISERS = ("owner", "admin", "operator")  # the catalog and its redemptions
RULE_EDITORS = ("owner", "admin")  # earning rules, levels and settings


async def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """The entry point opens the use case's transaction from these."""
    return request.app.state.sessions  # type: ignore[no-any-return]


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(sessions)]


async def member(principal: CurrentPrincipal) -> Principal:
    if principal.token_type != "member":
        raise Problem(403, "forbidden", "Forbidden", "member tokens only")
    return principal


def operator(*roles: str) -> Any:
    async def check(principal: CurrentPrincipal) -> Principal:
        if not is_operator(principal, *roles):
            raise Problem(403, "forbidden", "Forbidden", "your role does not allow this")
        return principal

    return Depends(check)


def is_operator(principal: Principal, *roles: str) -> bool:
    return principal.token_type == "access" and principal.has_any_role(*roles)


Member = Annotated[Principal, Depends(member)]
Reader = Annotated[Principal, operator(*READERS)]
Adjuster = Annotated[Principal, operator(*ADJUSTERS)]
Merchandiser = Annotated[Principal, operator(*MERCHANDISERS)]
Editor = Annotated[Principal, operator(*RULE_EDITORS)]
