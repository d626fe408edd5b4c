"""A test-only producer and consumer built on servicekit, run as real processes.

  produce DB BOOTSTRAP TOPIC --count N [--relay] [--rate R]   write probes (+ relay them)
  relay   DB BOOTSTRAP TOPIC [--until-empty]                  publish the outbox
  consume DB BOOTSTRAP TOPIC GROUP [--from-beginning]          apply probes to tallies

The probe itself (tables, events, the batch handler) is ``servicekit.probe``. A
probe with ``poison`` fails while the file named by PROBE_POISON_FLAG exists.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from sqlalchemy import select

from servicekit.consumer import DUPLICATES, Batched, ConsumerRunner
from servicekit.db import create_engine, session_factory, transaction
from servicekit.kafka import KafkaConfig, producer
from servicekit.outbox import OutboxRelay
from servicekit.probe import PROBE_TYPE, apply_probes, probe_event, write_probe
from servicekit.tables import outbox


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
        handlers={PROBE_TYPE: Batched(apply_probes)},
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
