"""The backbone under crashes, redeliveries, replays, poison and a stalled broker.

Real processes (tests/integration/probe_worker.py), the real dev broker, SQLite
and PostgreSQL. Invariants: every committed event is applied, none twice, and
per-key order holds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from sqlalchemy import func, select

from servicekit.db import create_engine
from servicekit.devbroker import DevBroker
from servicekit.kafka import KafkaConfig, ensure_topics
from servicekit.probe import create_schema, probes, tallies
from servicekit.tables import inbox, outbox

WORKER = Path(__file__).parent / "probe_worker.py"
SERVICEKIT_CLI = [sys.executable, "-m", "servicekit.cli"]


@dataclass
class Probe:
    """One producer database, one consumer database, one topic, their worker processes."""

    broker: DevBroker
    producer_db: str
    consumer_db: str
    workdir: Path
    topic: str = field(default_factory=lambda: f"probe-{uuid.uuid4().hex[:10]}")
    group: str = field(default_factory=lambda: f"g-{uuid.uuid4().hex[:8]}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(
        self,
        command: str,
        *args: str,
        failpoint: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        db = self.consumer_db if command == "consume" else self.producer_db
        argv = [
            sys.executable,
            str(WORKER),
            command,
            db,
            self.broker.bootstrap_servers,
            self.topic,
            *([self.group] if command == "consume" else []),
            *args,
        ]
        full_env = {**os.environ, **(env or {})}
        if failpoint:
            full_env["QUANZI_FAILPOINTS"] = failpoint
        log = open(self.workdir / f"{command}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(argv, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def run(
        self,
        command: str,
        *args: str,
        failpoint: str | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> int:
        process = self.spawn(command, *args, failpoint=failpoint, env=env)
        return process.wait(timeout=timeout)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    async def scalar(self, url: str, query: object) -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return int((await connection.execute(query)).scalar() or 0)  # type: ignore[call-overload]
        finally:
            await engine.dispose()

    async def applied(self) -> int:
        return await self.scalar(self.consumer_db, select(func.sum(tallies.c.applied)))

    async def out_of_order(self) -> int:
        return await self.scalar(self.consumer_db, select(func.sum(tallies.c.out_of_order)))

    async def committed_probes(self) -> int:
        return await self.scalar(self.producer_db, select(func.count()).select_from(probes))

    async def unsent(self) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        return await self.scalar(self.producer_db, query)

    async def inbox_rows(self) -> int:
        return await self.scalar(self.consumer_db, select(func.count()).select_from(inbox))

    async def topic_messages(self, topic: str | None = None) -> int:
        """Records on the topic, duplicates included, counted by reading it to the end.

        (The dev broker's end offsets are not exact when a batch holds several records.)
        """
        consumer = AIOKafkaConsumer(
            topic or self.topic,
            bootstrap_servers=self.broker.bootstrap_servers,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
        )
        await consumer.start()
        count = 0
        try:
            while batches := await consumer.getmany(timeout_ms=1500):
                count += sum(len(records) for records in batches.values())
            return count
        finally:
            await consumer.stop()

    async def wait_for(
        self,
        what: Callable[[], object],
        expected: int,
        timeout: float = 60,
        *,
        at_least: bool = False,
    ) -> None:
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = await what()  # type: ignore[misc]
            if seen == expected or (at_least and seen is not None and seen >= expected):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{getattr(what, '__name__', what)}: expected {expected}, saw {seen}")


@pytest.fixture
async def probe(dev_broker: DevBroker, backend: str, tmp_path: Path) -> AsyncIterator[Probe]:
    from servicekit.testing import fresh_database

    async with (
        fresh_database(backend, tmp_path) as producer_db,
        fresh_database(backend, tmp_path) as consumer_db,
    ):
        await create_schema(producer_db)
        await create_schema(consumer_db)
        probe = Probe(dev_broker, producer_db, consumer_db, tmp_path)
        config = KafkaConfig(dev_broker.bootstrap_servers)
        await ensure_topics(
            config, [NewTopic(probe.topic, 3, 1), NewTopic(probe.topic + ".dlq", 1, 1)]
        )
        try:
            yield probe
        finally:
            probe.stop_all()


async def test_state_and_events_in_one_transaction_are_applied_exactly_once(probe: Probe) -> None:
    assert probe.run("produce", "--count", "300", "--relay") == 0
    probe.spawn("consume")
    await probe.wait_for(probe.applied, 300)
    assert await probe.inbox_rows() == 300
    assert await probe.unsent() == 0
    assert await probe.out_of_order() == 0


async def test_producer_killed_after_commit_before_publish_delivers_after_restart(
    probe: Probe,
) -> None:
    crashed = probe.run("produce", "--count", "50", "--relay", failpoint="relay.before_publish")
    assert crashed == -9
    committed = await probe.committed_probes()
    assert committed >= 1
    assert await probe.unsent() == committed  # committed, never published
    assert probe.run("relay", "--until-empty") == 0
    probe.spawn("consume")
    await probe.wait_for(probe.applied, committed)
    assert await probe.topic_messages() == committed


async def test_relay_killed_after_ack_before_mark_publishes_a_harmless_duplicate(
    probe: Probe,
) -> None:
    assert probe.run("produce", "--count", "100") == 0
    assert probe.run("relay", "--until-empty", failpoint="relay.after_ack") == -9
    assert await probe.unsent() == 100  # acked by the broker, not marked
    assert await probe.topic_messages() == 100
    assert probe.run("relay", "--until-empty") == 0
    assert await probe.topic_messages() == 200  # every event is on the topic twice
    probe.spawn("consume")
    await probe.wait_for(probe.inbox_rows, 100)
    await asyncio.sleep(1.0)  # let the consumer read the duplicates too
    assert await probe.applied() == 100
    assert await probe.out_of_order() == 0


async def test_consumer_killed_between_db_commit_and_offset_commit_applies_once(
    probe: Probe,
) -> None:
    assert probe.run("produce", "--count", "100", "--relay") == 0
    first = probe.spawn("consume", failpoint="consumer.after_db_commit")
    assert first.wait(timeout=60) == -9
    applied_before_crash = await probe.applied()
    assert applied_before_crash >= 1
    probe.spawn("consume")  # redelivers the batch whose offsets were never committed
    await probe.wait_for(probe.applied, 100)
    await asyncio.sleep(0.5)
    assert await probe.applied() == 100
    assert await probe.inbox_rows() == 100


async def test_poison_message_goes_to_the_dlq_and_replays_once_fixed(probe: Probe) -> None:
    flag = probe.workdir / "poison-on"
    flag.touch()
    env = {"PROBE_POISON_FLAG": str(flag)}
    assert probe.run("produce", "--count", "60", "--relay", "--poison-at", "7") == 0
    probe.spawn("consume", env=env)
    await probe.wait_for(probe.applied, 59)  # the partition kept moving past the poison
    await probe.wait_for(lambda: probe.topic_messages(probe.topic + ".dlq"), 1)
    headers = await _dlq_headers(probe)
    assert "poison probe" in headers["dlq_error"]
    assert headers["dlq_group"] == probe.group
    assert headers["ce_type"] == "quanzi.platform.probe.recorded.v1"

    flag.unlink()  # "fixed": the handler now accepts the event
    replay = subprocess.run(
        [*SERVICEKIT_CLI, "--bootstrap", probe.broker.bootstrap_servers, "dlq-replay", probe.topic],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "replayed 1 record" in replay.stdout
    await probe.wait_for(probe.applied, 60)
    again = subprocess.run(
        [*SERVICEKIT_CLI, "--bootstrap", probe.broker.bootstrap_servers, "dlq-replay", probe.topic],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "replayed 0 record" in again.stdout
    await asyncio.sleep(0.5)
    assert await probe.applied() == 60


async def test_replaying_the_topic_from_offset_zero_changes_nothing(probe: Probe) -> None:
    assert probe.run("produce", "--count", "120", "--relay") == 0
    first = probe.spawn("consume")
    await probe.wait_for(probe.applied, 120)
    first.terminate()
    first.wait(timeout=30)
    replay = probe.spawn("consume", "--from-beginning", "--exit-after-duplicates", "120")
    assert replay.wait(timeout=60) == 0  # it re-read all 120 and skipped every one
    assert await probe.applied() == 120
    assert await probe.inbox_rows() == 120


async def test_broker_paused_under_load_loses_nothing(probe: Probe) -> None:
    probe.spawn("consume")
    writer = probe.spawn("produce", "--count", "1200", "--rate", "100", "--relay")
    await probe.wait_for(probe.applied, 100, at_least=True)  # flowing end to end
    probe.broker.pause()
    try:
        before = await probe.committed_probes()
        # Wall time here is the outage itself: the writer keeps its own pace meanwhile.
        await probe.wait_for(probe.committed_probes, before + 300, at_least=True)
        during = await probe.committed_probes()
    finally:
        probe.broker.resume()
    assert during - before >= 300  # writes kept committing while the broker was stopped
    assert writer.wait(timeout=120) == 0
    await probe.wait_for(probe.applied, 1200, timeout=120)
    assert await probe.out_of_order() == 0
    assert await probe.unsent() == 0


async def _dlq_headers(probe: Probe) -> dict[str, str]:
    consumer = AIOKafkaConsumer(
        probe.topic + ".dlq",
        bootstrap_servers=probe.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        return {k: v.decode() for k, v in record.headers}
    finally:
        await consumer.stop()
