"""A test-only producer and consumer built on servicekit, run as real processes.

  produce DB BOOTSTRAP TOPIC --count N [--relay] [--rate R]   write probes (+ relay them)
  relay   DB BOOTSTRAP TOPIC [--until-empty]                  publish the outbox
  consume DB BOOTSTRAP TOPIC GROUP [--from-beginning]          apply probes to tallies

The consumer adds each probe's amount to its subject's tally; ``applied`` counts
the events applied, so a double effect is visible. A probe with ``poison`` fails
while the file named by PROBE_POISON_FLAG exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.consumer import DUPLICATES, ConsumerRunner
from servicekit.db import create_engine, insert_ignore, session_factory, transaction
from servicekit.events import Event, new_event
from servicekit.kafka import KafkaConfig, producer
from servicekit.outbox import OutboxRelay, add_event
from servicekit.tables import kit_metadata, outbox

PROBE_TYPE = "quanzi.platform.probe.recorded.v1"
metadata = MetaData()
probes = Table(
    "probes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subject", String(64), nullable=False),
    Column("amount", Integer, nullable=False),
)
tallies = Table(
    "tallies",
    metadata,
    Column("subject", String(64), primary_key=True),
    Column("total", Integer, nullable=False),
    Column("applied", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("out_of_order", Integer, nullable=False),
)


async def create_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(kit_metadata.create_all)
        await connection.run_sync(metadata.create_all)
    await engine.dispose()


def probe_event(
    topic: str, subject: str, amount: int, seq: int, *, poison: bool = False, padding: int = 0
) -> Event:
    data: dict[str, object] = {
        "probe_id": uuid.uuid4().hex,
        "subject": subject,
        "amount": amount,
        "seq": seq,
    }
    if padding:
        data["padding"] = "x" * padding
    if poison:
        data["poison"] = True
    return new_event(
        type=PROBE_TYPE,
        source="/probe",
        tenant_id="t-probe",
        topic=topic,
        data=data,
        key=subject,
        subject=subject,
    )


async def write_probe(session: AsyncSession, event: Event) -> None:
    """State and event in the caller's one transaction."""
    await session.execute(
        probes.insert().values(
            id=event.data["probe_id"], subject=event.data["subject"], amount=event.data["amount"]
        )
    )
    await add_event(session, event)


async def apply_probe(session: AsyncSession, event: Event) -> None:
    flag = os.environ.get("PROBE_POISON_FLAG")
    if event.data.get("poison") and flag and Path(flag).exists():
        raise ValueError(f"poison probe {event.data['probe_id']}")
    subject, amount, seq = event.data["subject"], int(event.data["amount"]), int(event.data["seq"])
    first = {"subject": subject, "total": amount, "applied": 1, "last_seq": seq, "out_of_order": 0}
    if not await insert_ignore(session, tallies, first):
        # Per-key order: the sequence of a subject's events only grows.
        await session.execute(
            update(tallies)
            .where(tallies.c.subject == subject)
            .values(
                total=tallies.c.total + amount,
                applied=tallies.c.applied + 1,
                out_of_order=tallies.c.out_of_order + case((tallies.c.last_seq > seq, 1), else_=0),
                last_seq=seq,
            )
        )


async def produce(args: argparse.Namespace) -> None:
    engine = create_engine(args.db)
    sessions = session_factory(engine)
    relay_task = None
    if args.relay:
        kafka_producer = producer(KafkaConfig(args.bootstrap))
        await kafka_producer.start()
        relay = OutboxRelay(sessions, kafka_producer, service="probe")
        relay_task = asyncio.create_task(relay.run())
    interval = 1 / args.rate if args.rate else 0
    for i in range(args.count):
        subject = f"s{i % args.subjects}"
        event = probe_event(args.topic, subject, 1, i, poison=i in args.poison_at)
        async with transaction(sessions) as session:
            await write_probe(session, event)
        print(f"committed {i + 1}", flush=True)
        if interval:
            await asyncio.sleep(interval)
    if relay_task is not None:
        await wait_outbox_empty(sessions)
        relay.stop()
        await relay_task
        await kafka_producer.stop()
    await engine.dispose()


async def wait_outbox_empty(sessions: object) -> None:
    while True:
        async with transaction(sessions) as session:  # type: ignore[arg-type]
            left = (
                await session.execute(
                    select(outbox.c.id).where(outbox.c.sent_at.is_(None)).limit(1)
                )
            ).first()
        if left is None:
            return
        await asyncio.sleep(0.05)


async def run_relay(args: argparse.Namespace) -> None:
    engine = create_engine(args.db)
    sessions = session_factory(engine)
    kafka_producer = producer(KafkaConfig(args.bootstrap))
    await kafka_producer.start()
    relay = OutboxRelay(sessions, kafka_producer, service="probe", batch_size=args.batch)
    task = asyncio.create_task(relay.run())
    print("relay started", flush=True)
    if args.until_empty:
        await wait_outbox_empty(sessions)
        relay.stop()
    await task
    await kafka_producer.stop()
    await engine.dispose()


async def consume(args: argparse.Namespace) -> None:
    engine = create_engine(args.db)
    sessions = session_factory(engine)
    config = KafkaConfig(args.bootstrap, fetch_max_wait_ms=10)
    dlq_producer = producer(config)
    await dlq_producer.start()
    runner = ConsumerRunner(
        group_id=args.group,
        topics=[args.topic],
        handlers={PROBE_TYPE: apply_probe},
        sessions=sessions,
        kafka=config,
        dlq_producer=dlq_producer,
        max_attempts=3,
        retry_backoff_s=0.05,
        from_beginning=args.from_beginning,
    )
    task = asyncio.create_task(runner.run())
    # SIGTERM leaves the group cleanly, so the next member is assigned at once.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, runner.stop)
    await runner.assigned.wait()
    print("consumer assigned", flush=True)
    if args.exit_after_duplicates:
        skipped = DUPLICATES.labels(args.group)
        while skipped._value.get() < args.exit_after_duplicates:
            await asyncio.sleep(0.05)
        print(f"skipped {int(skipped._value.get())} duplicates", flush=True)
        runner.stop()
    await task
    await dlq_producer.stop()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["produce", "relay", "consume"])
    parser.add_argument("db")
    parser.add_argument("bootstrap")
    parser.add_argument("topic")
    parser.add_argument("group", nargs="?")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0)
    parser.add_argument("--relay", action="store_true")
    parser.add_argument("--until-empty", action="store_true")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--poison-at", type=int, nargs="*", default=[])
    parser.add_argument("--exit-after-duplicates", type=int, default=0)
    args = parser.parse_args()
    command = {"produce": produce, "relay": run_relay, "consume": consume}[args.command]
    try:
        asyncio.run(command(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
