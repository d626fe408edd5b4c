"""The developer's tools: `quanzi-dev events tail` prints what flows, the gateway's admin
CLI refuses to administer a database the platform does not use."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from quanzi_devstack.events import tail
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event
from servicekit.kafka import KafkaConfig, producer

TOPIC = "quanzi.devtools.test"


def joined(name: str) -> Event:
    return Event(
        type="quanzi.onboarding.membership.activated.v1",
        source="onboarding",
        tenant_id="t-1",
        topic=TOPIC,
        data={"member_id": "m-1", "display_name": name},
        key="m-1",
    )


async def publish(bootstrap: str, *events: Event) -> None:
    sender = producer(KafkaConfig(bootstrap))
    await sender.start()
    try:
        for event in events:
            await sender.send_and_wait(
                TOPIC, event.kafka_value(), key=b"m-1", headers=event.kafka_headers()
            )
    finally:
        await sender.stop()


@pytest.mark.broker
async def test_events_tail_prints_attributes_and_readable_chinese() -> None:
    with DevBroker(port=free_port()) as broker:
        bootstrap = broker.bootstrap_servers
        before, after = joined("小林"), joined("小王")
        await publish(bootstrap, before)
        # From the beginning: what the broker holds, in order.
        out = io.StringIO()
        assert await tail(bootstrap, [TOPIC], from_beginning=True, out=out, stop_after=1)
        block = out.getvalue()
        assert "quanzi.onboarding.membership.activated.v1 tenant=t-1 key=m-1" in block
        assert f"id={before.id}" in block and '"display_name": "小林"' in block
        # Otherwise only what is published after it started.
        out = io.StringIO()
        following = asyncio.create_task(
            tail(bootstrap, [TOPIC], from_beginning=False, out=out, stop_after=1)
        )
        await asyncio.sleep(0)  # the task notes its start time before anything is published
        await publish(bootstrap, after)
        assert await asyncio.wait_for(following, 60) == 1
        assert "小王" in out.getvalue() and "小林" not in out.getvalue()


def test_the_admin_cli_refuses_a_database_the_platform_does_not_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli import main

    database = tmp_path / "elsewhere" / "gateway.db"
    key = tmp_path / "elsewhere" / "gateway-signing-key.pem"
    monkeypatch.setenv("QUANZI_GATEWAY_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("QUANZI_GATEWAY_SIGNING_KEY_FILE", str(key))
    assert main(["tenants", "create", "acme", "--name", "A", "--owner-email", "o@a.example"]) == 1
    assert "quanzi-dev admin" in capsys.readouterr().err
    assert not database.exists() and not key.exists()  # nothing stray left behind
