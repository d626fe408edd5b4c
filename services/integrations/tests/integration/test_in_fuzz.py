"""schemathesis against integrations' own OpenAPI document, as an owner and as an API key:
whatever the document allows a client to send (and much it does not) gets no 5xx, and
every refusal is a problem+json. The whole document's truth is checked through the
gateway (tests/e2e/test_openapi_conformance.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from schemathesis import GenerationMode

from integrations import app as integrations_app
from integrations.settings import Settings
from servicekit.devbroker import free_port
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint, fuzz_for_server_errors, served_in_a_thread


@pytest.fixture
def served(tmp_path: Path, token_mint: TokenMint) -> Iterator[str]:
    """The integrations service on SQLite, without its broker side; development settings
    (no name resolution when an endpoint is saved)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'integrations.db'}"
    upgrade(alembic_ini("integrations"), url)
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
        webhooks_allow_private=True,
        webhooks_allow_http=True,
    )
    with served_in_a_thread(integrations_app.create_app(settings)) as base_url:
        yield base_url


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["owner", "integration"])
def test_no_request_gets_a_5xx(served: str, token_mint: TokenMint, who: str, mode: Any) -> None:
    token = token_mint.mint(tenant_id="t-fuzz", subject="op-1", roles=[who])
    headers = {"Authorization": f"Bearer {token}"}
    fuzz_for_server_errors(served, headers, mode, min_operations=10, max_examples=20)
