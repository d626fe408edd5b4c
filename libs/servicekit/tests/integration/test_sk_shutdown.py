"""The runtime's graceful stop (what SIGTERM leads to, after the HTTP server has drained):
a consumer caught in the middle of a batch finishes it, commits the transaction and then
the offsets; the relay and the timers return; the stop is bounded by its timeout."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from servicekit.app import ConsumerSpec, Runtime, ServiceSpec
from servicekit.db import create_engine, transaction
from servicekit.devbroker import DevBroker
from servicekit.events import Event
from servicekit.kafka import KafkaConfig, ensure_topics
from servicekit.probe import PROBE_TYPE, create_schema, probe_event, write_probe
from servicekit.settings import ServiceSettings
from servicekit.tables import inbox


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await create_schema(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def committed_offset(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


def runtime_for(
    engine: AsyncEngine, database_url: str, bootstrap: str, consumer: ConsumerSpec
) -> Runtime:
    settings = ServiceSettings(
        service_name=f"stop-{uuid.uuid4().hex[:8]}",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_provision_topics=False,  # the test's own topic, outside the contracts
        relay_poll_interval_s=0.2,
        timers_enabled=False,
    )
    return Runtime(ServiceSpec(settings=settings, title="stop", consumers=[consumer]), engine)


async def test_stop_lets_the_batch_in_hand_commit_and_its_offsets_follow(
    dev_broker: DevBroker, database_url: str, engine: AsyncEngine
) -> None:
    topic = f"stop-{uuid.uuid4().hex[:10]}"
    await ensure_topics(KafkaConfig(dev_broker.bootstrap_servers), [NewTopic(topic, 1, 1)])
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(session: AsyncSession, event: Event) -> None:
        entered.set()
        await release.wait()  # the stop arrives while this batch is being applied

    spec = ConsumerSpec("slow", [topic], {PROBE_TYPE: slow})
    runtime = runtime_for(engine, database_url, dev_broker.bootstrap_servers, spec)
    group = f"{runtime.settings.service_name}.slow"
    await runtime.start()
    try:
        async with transaction(runtime.sessions) as session:
            await write_probe(session, probe_event(topic, "member-1", 1, 1))
        await asyncio.wait_for(entered.wait(), timeout=60)
        stopping = asyncio.create_task(runtime.stop(timeout_s=30))
        # The stop is under way and waits for the batch (the old stop cancelled it at once).
        done, _ = await asyncio.wait([stopping], timeout=0.5)
        assert not done
        release.set()
        await asyncio.wait_for(stopping, timeout=30)
    finally:
        release.set()
        await runtime.stop(timeout_s=1)

    async with engine.connect() as connection:
        applied = await connection.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.consumer_group == group)
        )
    assert applied == 1
    assert await committed_offset(dev_broker.bootstrap_servers, group, topic) == 1


async def test_stop_is_bounded_by_its_timeout(
    dev_broker: DevBroker, database_url: str, engine: AsyncEngine
) -> None:
    topic = f"stuck-{uuid.uuid4().hex[:10]}"
    await ensure_topics(KafkaConfig(dev_broker.bootstrap_servers), [NewTopic(topic, 1, 1)])
    entered = asyncio.Event()

    async def stuck(session: AsyncSession, event: Event) -> None:
        entered.set()
        await asyncio.Event().wait()  # never returns: the stop must cancel it

    spec = ConsumerSpec("stuck", [topic], {PROBE_TYPE: stuck})
    runtime = runtime_for(engine, database_url, dev_broker.bootstrap_servers, spec)
    group = f"{runtime.settings.service_name}.stuck"
    await runtime.start()
    async with transaction(runtime.sessions) as session:
        await write_probe(session, probe_event(topic, "member-1", 1, 1))
    await asyncio.wait_for(entered.wait(), timeout=60)
    started = time.monotonic()
    await runtime.stop(timeout_s=1)
    assert time.monotonic() - started < 1 + 5 + 1  # timeout, producer close, margin
    # Cancelled mid-batch: nothing applied, nothing committed; a restart redoes it.
    async with engine.connect() as connection:
        applied = await connection.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.consumer_group == group)
        )
    assert applied == 0
    assert await committed_offset(dev_broker.bootstrap_servers, group, topic) is None
