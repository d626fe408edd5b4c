"""Who may call what: member tokens for members, the roles gateway tokens carry for
operators. Content officers (内容官) write and review content with the tenant's owner,
admins and operators; activity officers may read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.app import Sessions as Sessions
from servicekit.auth import CurrentPrincipal as CurrentPrincipal
from servicekit.auth import Principal as Principal
from servicekit.auth import is_member as is_member
from servicekit.auth import is_operator as is_operator
from servicekit.auth import member_only as member_only
from servicekit.auth import operator_with as operator_with
from servicekit.problems import Problem

EDITORS = ("owner", "admin", "operator", "content_officer")  # write, pin, review
READERS = (*EDITORS, "activity_officer")  # read everything of the tenant
SETTERS = ("owner", "admin", "content_officer")  # review settings of a community


async def member_or_reader(principal: CurrentPrincipal) -> Principal:
    if is_member(principal) or is_operator(principal, *READERS):
        return principal
    raise Problem(403, "forbidden", "Forbidden", "a member token or a content role is needed")


async def member_or_editor(principal: CurrentPrincipal) -> Principal:
    if is_member(principal) or is_operator(principal, *EDITORS):
        return principal
    raise Problem(403, "forbidden", "Forbidden", "a member token or a content role is needed")


Member = Annotated[Principal, Depends(member_only)]
Editor = Annotated[Principal, operator_with(*EDITORS)]
Reader = Annotated[Principal, operator_with(*READERS)]
Setter = Annotated[Principal, operator_with(*SETTERS)]
Anyone = Annotated[Principal, Depends(member_or_reader)]  # reads
Writer = Annotated[Principal, Depends(member_or_editor)]  # writes
