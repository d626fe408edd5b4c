"""schemathesis against insights' own OpenAPI document, as an owner and as a member:
whatever the document allows a client to send (and much it does not) gets no 5xx, and
every refusal is a problem+json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from schemathesis import GenerationMode

from insights import app as insights_app
from insights.settings import Settings
from servicekit.devbroker import free_port
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, fuzz_for_server_errors, served_in_a_thread


@pytest.fixture
def served(tmp_path: Path, token_mint: TokenMint) -> Iterator[str]:
    """The insights service on SQLite, without its broker side."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'insights.db'}"
    upgrade(alembic_ini("insights"), url)
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
    )
    with served_in_a_thread(insights_app.create_app(settings)) as base_url:
        yield base_url


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["owner", "member"])
def test_no_request_gets_a_5xx(served: str, token_mint: TokenMint, who: str, mode: Any) -> None:
    if who == "owner":
        token = token_mint.mint(tenant_id="t-fuzz", subject="op-1", roles=["owner"])
    else:
        token = token_mint.mint(tenant_id="t-fuzz", subject="m-1", typ="member")
    headers = {"Authorization": f"Bearer {token}"}
    fuzz_for_server_errors(served, headers, mode, min_operations=7)
