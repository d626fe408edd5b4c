"""Replaying a dead-letter topic: its records go back to their original topic.

Every consumer group of that topic sees them again; groups that had applied them
skip them through their inbox, the group that had failed applies them now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiokafka import TopicPartition

from servicekit.consumer import DLQ_HEADERS
from servicekit.contracts import DLQ_SUFFIX
from servicekit.kafka import KafkaConfig, consumer, producer

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


async def replay_dlq(config: KafkaConfig, topic: str, progress: Progress | None = None) -> int:
    """Republish the records of ``<topic>.dlq`` not yet replayed; returns how many.

    It reads until a poll comes back empty rather than up to the end offsets:
    the dev broker (Tansu 0.6) reports the end offset of a partition whose last
    batch holds several records as that batch's base offset + 1.
    """
    dlq = topic + DLQ_SUFFIX
    reader = consumer(config, group_id=f"servicekit.dlq-replay.{topic}")
    writer = producer(config)
    await reader.start()
    await writer.start()
    replayed = 0
    try:
        partitions = [
            TopicPartition(dlq, p) for p in sorted(reader.partitions_for_topic(dlq) or [])
        ]
        if not partitions:
            return 0
        reader.assign(partitions)
        while batches := await reader.getmany(timeout_ms=1000):
            for tp, records in batches.items():
                for record in records:
                    headers = dict(record.headers or ())
                    target = headers.get("dlq_topic", topic.encode()).decode()
                    kept = [(k, v) for k, v in (record.headers or ()) if k not in DLQ_HEADERS]
                    await writer.send_and_wait(
                        target, value=record.value, key=record.key, headers=kept
                    )
                    await reader.commit({tp: record.offset + 1})
                    replayed += 1
                    if progress:
                        progress(replayed)
        return replayed
    finally:
        await reader.stop()
        await writer.stop()
