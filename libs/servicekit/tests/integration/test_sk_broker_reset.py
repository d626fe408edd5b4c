"""A broker that comes back empty loses nothing (servicekit.brokerwatch).

The dev broker keeps everything in memory: after a kill and a restart it has no topics,
records or committed offsets. The relay notices the new cluster id and publishes every
retained row again; the consumer rereads from the start and its inbox skips what it had
applied. Real broker, SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic
from aiokafka.partitioner import murmur2
from aiokafka.protocol.metadata import MetadataRequest
from sqlalchemy import func, select

from servicekit.brokerwatch import cluster_id
from servicekit.consumer import Batched, ConsumerRunner
from servicekit.db import create_engine, session_factory, transaction
from servicekit.devbroker import DevBroker, free_port
from servicekit.kafka import KafkaConfig, ensure_topics, producer
from servicekit.outbox import OutboxRelay
from servicekit.probe import PROBE_TYPE, apply_probes, create_schema, probe_event, tallies
from servicekit.tables import broker_epochs, inbox, outbox
from servicekit.testing import fresh_database

pytestmark = pytest.mark.broker


class Side:
    """A producing database with its relay and a consuming database, on one broker port."""

    def __init__(self, broker: DevBroker, producer_db: str, consumer_db: str) -> None:
        self.broker = broker
        self.config = KafkaConfig(broker.bootstrap_servers)
        self.topic = f"reset-{uuid.uuid4().hex[:8]}"
        self.group = f"g-{uuid.uuid4().hex[:8]}"
        self.producer_engine = create_engine(producer_db)
        self.consumer_engine = create_engine(consumer_db)
        self.seq = 0
        self.partitions = 3

    async def provision(self) -> None:
        topics = [NewTopic(self.topic, self.partitions, 1), NewTopic(self.topic + ".dlq", 1, 1)]
        await ensure_topics(self.config, topics)

    async def write(self, count: int) -> None:
        sessions = session_factory(self.producer_engine)
        from servicekit.probe import write_probe

        for _ in range(count):
            event = probe_event(self.topic, f"s{self.seq % 7}", 1, self.seq)
            self.seq += 1
            async with transaction(sessions) as session:
                await write_probe(session, event)

    @asynccontextmanager
    async def relay(self) -> AsyncIterator[OutboxRelay]:
        client = producer(self.config)
        await client.start()
        relay = OutboxRelay(
            session_factory(self.producer_engine),
            client,
            service="probe",
            poll_interval_s=0.1,
            on_new_broker=self.provision,
        )
        task = asyncio.create_task(relay.run())
        try:
            yield relay
        finally:
            relay.stop()
            await task
            await client.stop()

    @asynccontextmanager
    async def consumer(self) -> AsyncIterator[ConsumerRunner]:
        client = producer(self.config)
        await client.start()
        runner = ConsumerRunner(
            group_id=self.group,
            topics=[self.topic],
            handlers={PROBE_TYPE: Batched(apply_probes)},
            sessions=session_factory(self.consumer_engine),
            kafka=self.config,
            dlq_producer=client,
        )
        task = asyncio.create_task(runner.run())
        try:
            yield runner
        finally:
            runner.stop()
            await task
            await client.stop()

    async def count(self, engine_name: str, query: object) -> int:
        engine = self.consumer_engine if engine_name == "consumer" else self.producer_engine
        async with engine.connect() as connection:
            return int((await connection.execute(query)).scalar() or 0)  # type: ignore[call-overload]

    async def applied(self) -> int:
        return await self.count("consumer", select(func.sum(tallies.c.applied)))

    async def out_of_order(self) -> int:
        return await self.count("consumer", select(func.sum(tallies.c.out_of_order)))

    async def inbox_rows(self) -> int:
        return await self.count("consumer", select(func.count()).select_from(inbox))

    async def unsent(self) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
        return await self.count("producer", query)

    async def purge_sent(self) -> None:
        async with self.producer_engine.begin() as connection:
            await connection.execute(outbox.delete().where(outbox.c.sent_at.is_not(None)))

    async def recorded_broker(self) -> str | None:
        async with self.producer_engine.connect() as connection:
            return (await connection.execute(select(broker_epochs.c.cluster_id))).scalar()

    async def dispose(self) -> None:
        await self.producer_engine.dispose()
        await self.consumer_engine.dispose()


async def wait_for(what: Callable[[], Awaitable[int]], expected: int, timeout: float = 60) -> None:
    await wait_until(what, expected, timeout)


async def wait_until(
    what: Callable[[], Awaitable[object]], expected: object, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = await what()
        if seen == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{getattr(what, '__name__', what)}: expected {expected}, saw {seen}")


@pytest.fixture
async def side(backend: str, tmp_path: Path) -> AsyncIterator[Side]:
    broker = DevBroker(port=free_port(), log_path=tmp_path / "broker.log").start()
    try:
        async with (
            fresh_database(backend, tmp_path) as producer_db,
            fresh_database(backend, tmp_path) as consumer_db,
        ):
            await create_schema(producer_db)
            await create_schema(consumer_db)
            side = Side(broker, producer_db, consumer_db)
            await side.provision()
            try:
                yield side
            finally:
                await side.dispose()
    finally:
        broker.stop()


async def test_a_broker_restarted_empty_gets_every_retained_event_again(side: Side) -> None:
    await side.write(300)
    async with side.relay():
        async with side.consumer():
            await wait_for(side.applied, 300)  # applied and committed on the first broker
        await side.write(700)  # sent to the first broker; no consumer is running
        await wait_for(side.unsent, 0)
        first = await side.recorded_broker()
        assert first == side.broker.cluster_id

        side.broker.kill()  # the 700 the consumer never read are gone with it
        side.broker.restart()
        assert side.broker.cluster_id != first

        # The relay sees the new cluster, recreates the topic and sends all 1,000 again.
        await wait_until(lambda: side.recorded_broker(), side.broker.cluster_id)
        await wait_for(side.unsent, 0)
        async with side.consumer():
            await wait_for(side.inbox_rows, 1000)
            await wait_for(side.applied, 1000)
    assert await side.out_of_order() == 0


async def test_a_consumer_past_the_end_of_a_new_broker_reads_it_from_the_start(
    side: Side,
) -> None:
    """Its positions (about 67 per partition) are past the end of the new, empty topics:
    it must start at their beginning, never at their end. (aiokafka's reset policy, the
    group's rejoin and the consumer's own cluster-id check all lead there.)"""
    async with side.relay(), side.consumer():
        await side.write(200)
        await wait_for(side.applied, 200)  # its positions on the first broker sum to 200
        await side.purge_sent()  # past the retention window: not sent again
        side.broker.kill()
        side.broker.restart()
        await side.write(300)
        await wait_for(side.applied, 500)
        await wait_for(side.inbox_rows, 500)
    assert await side.out_of_order() == 0


async def test_a_topic_the_new_broker_made_with_fewer_partitions_loses_nothing(
    side: Side,
) -> None:
    """Tansu creates a topic on any client's metadata request, with 4 partitions, and
    acknowledges sends to partitions it does not list, which no reader ever sees. On a new
    broker a consumer's request often comes before the relay provisions the contract's 6:
    the relay must then route by the new broker's partitions, not the old one's."""
    side.topic = f"reset-{uuid.uuid4().hex[:8]}"
    side.partitions = 6
    await side.provision()
    keys = [f"s{n}".encode() for n in range(7)]  # probe_event's subjects
    hidden = {(murmur2(key) & 0x7FFFFFFF) % side.partitions for key in keys} & {4, 5}
    assert hidden  # some keys go where the defect hid them
    client = producer(side.config)
    await client.start()
    relay = OutboxRelay(
        session_factory(side.producer_engine), client, service="probe", on_new_broker=side.provision
    )
    try:
        await side.write(140)
        await publish_all(relay, side)
        side.broker.kill()
        # The relay's producer notices the broker gone and fails to refresh its metadata,
        # as a live relay would meanwhile: it keeps the old broker's 6 partitions.
        assert not await client.client.force_metadata_update()
        side.broker.restart()
        assert await partitions_made_by_asking(side.config, side.topic) == 4
        await publish_all(relay, side)  # the 140 again, to the new broker
    finally:
        await client.stop()
    async with side.consumer():
        await wait_for(side.applied, 140)
        await wait_for(side.inbox_rows, 140)
    assert await side.out_of_order() == 0


async def partitions_made_by_asking(config: KafkaConfig, topic: str) -> int:
    """A consumer's or producer's metadata request for ``topic``, as any client sends one."""
    client = producer(config)
    await client.start()
    try:
        node = client.client.get_random_node()
        response = await client.client.send(node, MetadataRequest([topic]))
        (_error, name, _internal, partitions, *_rest) = response.topics[0]
        assert name == topic
        return len(partitions)
    finally:
        await client.stop()


async def publish_all(relay: OutboxRelay, side: Side) -> None:
    """Batches until none is left (the first one also notices a new broker)."""
    while await relay.publish_once() or await side.unsent():
        pass


async def test_cluster_id_is_the_brokers_own_per_start(side: Side) -> None:
    client = producer(side.config)
    await client.start()
    try:
        assert await cluster_id(client) == side.broker.cluster_id
    finally:
        await client.stop()
