"""The service's clock, found from a session: the wall clock, or the one a test set on the
app (``app.state.clock``). Consumers and timers get only a session; this is how they read
the same "now" as the routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from servicekit.types import utcnow

Clock = Callable[[], datetime]
_clocks: dict[int, Clock] = {}


def register(engine: AsyncEngine, clock: Clock) -> None:
    _clocks[id(engine.sync_engine)] = clock


def unregister(engine: AsyncEngine) -> None:
    _clocks.pop(id(engine.sync_engine), None)


def now_of(session: AsyncSession) -> datetime:
    bind = session.get_bind()
    clock = _clocks.get(id(getattr(bind, "engine", bind)))
    return clock() if clock is not None else utcnow()
