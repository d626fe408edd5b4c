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
    # The wait while every poll brings records (``busy_after`` polls in a row); 0 keeps the
    # short one.
    busy_fetch_max_wait_ms: int = 0
    busy_after: int = 3
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
    """Broker waits paced to the flow: short while records trickle, longer while they pour,
    long while a consumer is idle.

    aiokafka prefetches in the background, one fetch request after another, each held by
    the broker for at most ``fetch_max_wait_ms``. The dev broker (Tansu) holds a fetch for
    the whole wait even when records arrive meanwhile, so a short wait is what keeps the
    commit-to-consumer latency low, and it costs a request every few milliseconds per
    consumer doing nothing (measured: 4.9 % of a core for one idle consumer at 10 ms, 0.4 %
    at 500 ms). The pacer switches to ``idle_fetch_max_wait_ms`` after ``idle_after_s``
    without records and back to the short wait on the first record: only the first event
    after a quiet spell waits longer (up to the idle wait).

    Under a burst every poll brings records, and a short wait then means batches of one or
    two events, each paying a transaction, an offset commit and a broker request: after
    ``busy_after`` polls in a row with records the pacer waits ``busy_fetch_max_wait_ms``,
    so each batch carries what arrived meanwhile (measured in bench/onboarding: the
    consumers' CPU per join fell by a quarter). The first poll without records goes back to
    the short wait: a trickle keeps its low latency. A broker that answers a fetch as soon
    as data is there (Apache Kafka) can simply use a long wait for all three.
    """

    def __init__(self, consumer: AIOKafkaConsumer, config: KafkaConfig) -> None:
        self._consumer = consumer
        self._waits = {
            "active": config.fetch_max_wait_ms,
            "busy": config.busy_fetch_max_wait_ms or config.fetch_max_wait_ms,
            "idle": config.idle_fetch_max_wait_ms or config.fetch_max_wait_ms,
        }
        self._idle_after_s = config.idle_after_s
        self._busy_after = config.busy_after
        self._quiet_since: float | None = None
        self._polls_with_records = 0
        self._pace = "active"

    def saw(self, records: bool, now: float) -> None:
        if records:
            self._quiet_since = None
            self._polls_with_records += 1
            busy = self._polls_with_records >= self._busy_after
            self._set_pace("busy" if busy else "active")
            return
        self._polls_with_records = 0
        if self._quiet_since is None:
            self._quiet_since = now
        idle = now - self._quiet_since >= self._idle_after_s
        self._set_pace("idle" if idle else "active")

    def _set_pace(self, pace: str) -> None:
        if pace == self._pace:
            return
        self._pace = pace
        # aiokafka reads this attribute each time it builds a fetch request and has no
        # public setter; tests/unit/test_sk_kafka checks that it still exists.
        fetcher = self._consumer._fetcher
        if fetcher is not None:
            fetcher._fetch_max_wait_ms = self._waits[pace]


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
