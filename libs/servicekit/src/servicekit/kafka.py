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
    # The wait once a consumer has seen nothing for ``idle_after_s``; 0 keeps the short one.
    idle_fetch_max_wait_ms: int = 0
    idle_after_s: float = 2.0
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


class FetchPacer:
    """Short broker waits while events flow, long ones while a consumer is idle.

    aiokafka prefetches in the background, one fetch request after another, each held by
    the broker for at most ``fetch_max_wait_ms``. The dev broker (Tansu) holds a fetch for
    the whole wait even when records arrive meanwhile, so a short wait is what keeps the
    commit-to-consumer latency low, and it costs a request every few milliseconds per
    consumer doing nothing (measured: 4.9 % of a core for one idle consumer at 10 ms, 0.4 %
    at 500 ms). The pacer switches to ``idle_fetch_max_wait_ms`` after ``idle_after_s``
    without records and back to the short wait on the first record: only the first event
    after a quiet spell waits longer (up to the idle wait). A broker that answers a fetch
    as soon as data is there (Apache Kafka) can simply use a long wait for both.
    """

    def __init__(self, consumer: AIOKafkaConsumer, config: KafkaConfig) -> None:
        self._consumer = consumer
        self._active_ms = config.fetch_max_wait_ms
        self._idle_ms = config.idle_fetch_max_wait_ms or config.fetch_max_wait_ms
        self._idle_after_s = config.idle_after_s
        self._quiet_since: float | None = None
        self._idle = False

    def saw(self, records: bool, now: float) -> None:
        if records:
            self._quiet_since = None
            if self._idle:
                self._set_wait(self._active_ms)
                self._idle = False
            return
        if self._quiet_since is None:
            self._quiet_since = now
        elif not self._idle and now - self._quiet_since >= self._idle_after_s:
            self._set_wait(self._idle_ms)
            self._idle = True

    def _set_wait(self, wait_ms: int) -> None:
        # aiokafka reads this attribute each time it builds a fetch request and has no
        # public setter; tests/unit/test_sk_kafka checks that it still exists.
        fetcher = self._consumer._fetcher
        if fetcher is not None:
            fetcher._fetch_max_wait_ms = wait_ms


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
