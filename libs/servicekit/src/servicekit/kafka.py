"""aiokafka clients configured from settings, and topic provisioning from contracts."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from servicekit.contracts import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str
    enable_idempotence: bool = False
    fetch_max_wait_ms: int = 10
    client_id: str = "quanzi"
    replication_factor: int = 1


def producer(config: KafkaConfig) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=config.bootstrap_servers,
        client_id=config.client_id,
        acks="all",
        enable_idempotence=config.enable_idempotence,
        linger_ms=2,
        max_batch_size=1_048_576,
        request_timeout_ms=30_000,
    )


def consumer(config: KafkaConfig, *topics: str, group_id: str | None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=config.bootstrap_servers,
        client_id=config.client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=config.fetch_max_wait_ms,
        isolation_level="read_committed",
    )


async def ensure_topics(config: KafkaConfig, topics: Iterable[NewTopic]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Idempotent."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in topics if topic.name not in existing]
        if missing:
            with suppress(TopicAlreadyExistsError):  # a replica provisioned them meanwhile
                await admin.create_topics(missing)
        return [topic.name for topic in missing]
    finally:
        await admin.close()


def contract_topics(
    registry: Registry, names: Iterable[str] | None = None, *, replication_factor: int = 1
) -> list[NewTopic]:
    """NewTopic specs for the given contract topics (all by default) and their DLQs."""
    wanted = set(names) if names is not None else set(registry.topics)
    specs = []
    for topic in registry.topics.values():
        if topic.name not in wanted:
            continue
        configs = {"retention.ms": str(topic.retention_ms)}
        specs.append(
            NewTopic(topic.name, topic.partitions, replication_factor, topic_configs=configs)
        )
        specs.append(NewTopic(topic.dlq, 1, replication_factor, topic_configs=configs))
    return specs
