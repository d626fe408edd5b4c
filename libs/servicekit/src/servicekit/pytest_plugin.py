"""Pytest fixtures shared by every test suite: the dev broker, databases, tokens.

Enabled by the repository's root ``conftest.py``. PostgreSQL tests skip with a
message when it is unreachable, and fail instead when ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from servicekit.devbroker import DevBroker, free_port
from servicekit.testing import TokenMint, fresh_database, postgres_admin_dsn, postgres_available

BACKENDS = ("sqlite", "postgres")


# No per-example deadline: a property test checks rules, not speed (benchmarks measure
# speed), and on a loaded CI machine an example's first run can take longer than any
# fixed deadline for reasons that say nothing about the rule.
settings.register_profile("quanzi", deadline=None)
settings.load_profile("quanzi")


@pytest.fixture(scope="session")
def dev_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    broker = DevBroker(port=free_port(), log_path=log)
    broker.start()
    yield broker
    broker.stop()


@functools.cache
def _postgres_up() -> bool:
    return asyncio.run(postgres_available())


def require_postgres() -> None:
    if _postgres_up():
        return
    message = f"PostgreSQL unreachable at {postgres_admin_dsn()}"
    if os.environ.get("CI"):
        pytest.fail(message + " (required under CI)")
    pytest.skip(message)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "postgres":
        require_postgres()
    return name


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend, created for the test and dropped after it."""
    async with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def token_mint() -> TokenMint:
    return TokenMint()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "backend" in fixtures and "[postgres" in item.name:
            item.add_marker(pytest.mark.postgres)
        if "dev_broker" in fixtures:
            item.add_marker(pytest.mark.broker)
