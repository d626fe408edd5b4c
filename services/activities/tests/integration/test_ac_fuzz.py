"""schemathesis against activities' own OpenAPI document, as an activity officer and as a
member: whatever the document allows a client to send (and much it does not) gets no 5xx,
and every refusal is a problem+json. (Checking every status against the document is not
done yet.)"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from activities import app as activities_app
from activities.settings import Settings
from servicekit.devbroker import free_port
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.testing import TokenMint


@pytest.fixture
def served(tmp_path: Path, token_mint: TokenMint) -> Iterator[str]:
    """The activities service on SQLite, served by uvicorn in a thread (schemathesis
    calls it with blocking HTTP)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'activities.db'}"
    upgrade(alembic_ini("activities"), url)
    settings_ = Settings(
        database_url=url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        jwks_json=json.dumps(token_mint.jwks()),
        timers_enabled=False,
        consumers_enabled=False,
    )
    port = free_port()
    config = uvicorn.Config(
        activities_app.create_app(settings_),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "activities did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["officer", "member"])
def test_no_request_gets_a_5xx(served: str, token_mint: TokenMint, who: str, mode: Any) -> None:
    if who == "officer":
        token = token_mint.mint(tenant_id="t-fuzz", subject="op-1", roles=["activity_officer"])
    else:
        token = token_mint.mint(tenant_id="t-fuzz", subject="m-1", typ="member")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(served + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def call(case: Any) -> None:
            response = case.call(base_url=served, headers=headers, timeout=10)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == ["application/problem+json"]

        call()
