"""The pipeline in one process against the real broker: provisioning from the
contracts, the relay woken by the commit, the trace context reaching the handler."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit import tracing
from servicekit.consumer import ConsumerRunner
from servicekit.contracts import Registry
from servicekit.db import create_engine, session_factory, transaction
from servicekit.devbroker import DevBroker
from servicekit.events import Event
from servicekit.kafka import KafkaConfig, contract_topics, ensure_topics, producer
from servicekit.outbox import OutboxRelay
from servicekit.probe import PROBE_TYPE, create_schema, probe_event, write_probe


async def test_topics_are_provisioned_from_the_contracts_idempotently(
    dev_broker: DevBroker,
) -> None:
    config = KafkaConfig(dev_broker.bootstrap_servers)
    specs = contract_topics(Registry.load(), ["platform.selftest"])
    assert {s.name: s.num_partitions for s in specs} == {
        "platform.selftest": 3,
        "platform.selftest.dlq": 1,
    }
    first = await ensure_topics(config, specs)
    assert await ensure_topics(config, specs) == []  # the second start creates nothing
    admin = AIOKafkaAdminClient(bootstrap_servers=dev_broker.bootstrap_servers)
    await admin.start()
    try:
        assert {"platform.selftest", "platform.selftest.dlq"} <= set(await admin.list_topics())
    finally:
        await admin.close()
    assert set(first) <= {"platform.selftest", "platform.selftest.dlq"}


async def test_trace_context_flows_from_the_request_to_the_handler(
    dev_broker: DevBroker, database_url: str
) -> None:
    await create_schema(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    config = KafkaConfig(dev_broker.bootstrap_servers)
    topic = "platform.selftest"
    await ensure_topics(config, contract_topics(Registry.load(), [topic]))
    seen: list[tuple[str | None, str | None]] = []

    async def record_trace(session: AsyncSession, event: Event) -> None:
        seen.append((event.data["probe_id"], tracing.current_traceparent.get()))

    kafka_producer = producer(config)
    await kafka_producer.start()
    group = f"trace-{database_url[-12:]}"
    runner = ConsumerRunner(
        group_id=group,
        topics=[topic],
        handlers={PROBE_TYPE: record_trace},
        sessions=sessions,
        kafka=config,
        dlq_producer=kafka_producer,
    )
    relay = OutboxRelay(sessions, kafka_producer, service="trace-test", poll_interval_s=30)
    tasks = [asyncio.create_task(runner.run()), asyncio.create_task(relay.run())]
    try:
        await asyncio.wait_for(runner.assigned.wait(), timeout=60)
        request_trace = tracing.child_of(None)  # as the HTTP middleware sets it
        token = tracing.current_traceparent.set(request_trace)
        try:
            event = probe_event(topic, "member-1", 1, 1)
        finally:
            tracing.current_traceparent.reset(token)
        async with transaction(sessions) as session:
            await write_probe(session, event)
        # The relay polls every 30 s here: delivery in time proves the commit woke it.
        for _ in range(200):
            if any(probe_id == event.data["probe_id"] for probe_id, _ in seen):
                break
            await asyncio.sleep(0.05)
        handled = dict(seen)[event.data["probe_id"]]
        assert tracing.trace_id(handled) == tracing.trace_id(request_trace)
        assert handled == event.traceparent  # the handler runs in the event's span
    finally:
        runner.stop()
        relay.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
        await kafka_producer.stop()
        await engine.dispose()
