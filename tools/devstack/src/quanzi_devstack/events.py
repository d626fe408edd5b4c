"""``quanzi-dev events tail [TOPIC...]``: print the platform's events as they arrive.

Each event is one block: its CloudEvents attributes on the first line, then its data as
indented JSON with Chinese (and every other script) printed as is. Without topics it
follows every topic of the contracts registry. ``--from-beginning`` prints what the
broker still holds first; otherwise only events published after the command started.

It reads with no consumer group (nothing is committed, no service's offsets move) and
from offset 0, then skips what is older than its start: the dev broker does not report
end offsets reliably, so "from now" cannot be a seek to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from servicekit.contracts import Registry
from servicekit.events import EnvelopeError, Event, decode


def render(event: Event) -> str:
    """One event as a readable block (attributes, then the data)."""
    attributes = [
        event.time.isoformat(timespec="milliseconds"),
        event.type,
        f"tenant={event.tenant_id}",
        f"key={event.key}" if event.key else "",
        f"subject={event.subject}" if event.subject else "",
        f"id={event.id}",
        f"source={event.source}",
    ]
    data = json.dumps(event.data, ensure_ascii=False, indent=2, sort_keys=True)
    return " ".join(part for part in attributes if part) + "\n" + data


def render_record(record: ConsumerRecord[bytes, bytes]) -> str:
    try:
        event = decode(record.topic, record.key, record.value, record.headers)
    except EnvelopeError as error:
        return f"{record.topic}[{record.partition}]@{record.offset}: not an event ({error})"
    return f"{record.topic}[{record.partition}]@{record.offset}  " + render(event)


async def tail(
    bootstrap: str,
    topics: Sequence[str],
    *,
    from_beginning: bool,
    out: TextIO = sys.stdout,
    stop_after: int | None = None,
) -> int:
    """Print events until interrupted (or ``stop_after`` of them); the number printed."""
    since_ms = 0 if from_beginning else int(time.time() * 1000)
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=250,
    )
    await consumer.start()
    printed = 0
    try:
        while stop_after is None or printed < stop_after:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if record.timestamp < since_ms:
                        continue
                    print(render_record(record), file=out, flush=True)
                    printed += 1
    finally:
        await consumer.stop()
    return printed


def contract_topics() -> list[str]:
    return sorted(Registry.load().topics)


def run_tail(bootstrap: str, topics: Sequence[str], from_beginning: bool) -> int:
    chosen = list(topics) or contract_topics()
    print(f"[quanzi] following {len(chosen)} topics on {bootstrap} (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail(bootstrap, chosen, from_beginning=from_beginning))
    return 0
