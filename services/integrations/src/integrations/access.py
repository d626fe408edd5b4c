"""Who may call what: a tenant's owner and admins manage its webhooks and CRM mapping; they
and the company's backend (an API key, role ``integration``) read its event feed; they and
a CRM's API key with ``members:write`` push contacts. Members never."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from integrations.settings import Settings
from servicekit.app import Sessions as Sessions
from servicekit.auth import CurrentPrincipal, Principal, is_operator, operator_with
from servicekit.problems import Problem
from servicekit.types import utcnow

MANAGERS = ("owner", "admin")
INTEGRATION = "integration"
FEED_READERS = (*MANAGERS, INTEGRATION)
# The API key scope that lets a tenant's CRM write members (the gateway's, as onboarding's
# directory reads it).
MEMBERS_SCOPE = "members:write"


async def now(request: Request) -> datetime:
    """The current instant: ``app.state.clock`` when a test set one, else the wall clock."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utcnow()


async def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def contact_writer(principal: CurrentPrincipal) -> Principal:
    """Owners and admins, or a CRM's API key with the members:write scope."""
    scope = principal.claims.get("scope") if is_operator(principal, INTEGRATION) else None
    key_may = isinstance(scope, str) and MEMBERS_SCOPE in scope.split()
    if not (is_operator(principal, *MANAGERS) or key_may):
        raise Problem(
            403, "forbidden", "Forbidden", "owners, admins, or an API key with members:write"
        )
    return principal


Now = Annotated[datetime, Depends(now)]
Config = Annotated[Settings, Depends(settings)]
Manager = Annotated[Principal, operator_with(*MANAGERS)]
FeedReader = Annotated[Principal, operator_with(*FEED_READERS)]
ContactWriter = Annotated[Principal, Depends(contact_writer)]
