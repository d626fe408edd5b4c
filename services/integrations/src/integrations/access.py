"""Who may call what: a tenant's owner and admins manage its webhooks; they and the
company's backend (an API key, role ``integration``) read its event feed. Members never."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from integrations.settings import Settings
from servicekit.app import Sessions as Sessions
from servicekit.auth import Principal, operator_with
from servicekit.types import utcnow

MANAGERS = ("owner", "admin")
FEED_READERS = (*MANAGERS, "integration")


async def now(request: Request) -> datetime:
    """The current instant: ``app.state.clock`` when a test set one, else the wall clock."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else utcnow()


async def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


Now = Annotated[datetime, Depends(now)]
Config = Annotated[Settings, Depends(settings)]
Manager = Annotated[Principal, operator_with(*MANAGERS)]
FeedReader = Annotated[Principal, operator_with(*FEED_READERS)]
