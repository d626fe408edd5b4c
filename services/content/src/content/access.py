"""Who may call what: member tokens for members, the roles gateway tokens carry for
operators. Content officers (内容官) write and review content with the tenant's owner,
admins and operators; activity officers may read it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.auth import CurrentPrincipal, Principal
from servicekit.problems import Problem

EDITORS = ("owner", "admin", "operator", "content_officer")  # write, pin, review
READERS = (*EDITORS, "activity_officer")  # read everything of the tenant
SETTERS = ("owner", "admin", "content_officer")  # review settings of a community


async def sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """The entry point opens the use case's transaction from these."""
    return request.app.state.sessions  # type: ignore[no-any-return]


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(sessions)]


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
    raise Problem(403, "forbidden", "Forbidden", "a member token or a content role is needed")


async def member_or_editor(principal: CurrentPrincipal) -> Principal:
    if is_member(principal) or is_operator(principal, *EDITORS):
        return principal
    raise Problem(403, "forbidden", "Forbidden", "a member token or a content role is needed")


Member = Annotated[Principal, Depends(member)]
Editor = Annotated[Principal, operator(*EDITORS)]
Reader = Annotated[Principal, operator(*READERS)]
Setter = Annotated[Principal, operator(*SETTERS)]
Anyone = Annotated[Principal, Depends(member_or_reader)]  # reads
Writer = Annotated[Principal, Depends(member_or_editor)]  # writes
Responses = dict[int | str, dict[str, Any]]  # OpenAPI responses of a route
