"""Who may call what: member tokens for a member's own things, roles for operators."""

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

READERS = ("owner", "admin", "operator", "activity_officer", "content_officer")
ADJUSTERS = ("owner", "admin", "operator")
MERCHANDISERS = ("owner", "admin", "operator")  # the catalog and its redemptions
RULE_EDITORS = ("owner", "admin")  # earning rules, levels and settings


Member = Annotated[Principal, Depends(member_only)]
Reader = Annotated[Principal, operator_with(*READERS)]
Adjuster = Annotated[Principal, operator_with(*ADJUSTERS)]
Merchandiser = Annotated[Principal, operator_with(*MERCHANDISERS)]
Editor = Annotated[Principal, operator_with(*RULE_EDITORS)]
