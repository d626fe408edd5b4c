"""``servicekit``: operational commands that need no service code.

servicekit broker [--port 9092]         run the dev broker until Ctrl-C
servicekit provision                    create the contract topics (idempotent)
servicekit dlq-replay TOPIC             republish TOPIC.dlq to TOPIC, with progress
servicekit catalog [--check] [OUT]      write (or check) the event catalog
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from servicekit.contracts import Registry, render_catalog
from servicekit.devbroker import DevBroker
from servicekit.dlq import replay_dlq
from servicekit.kafka import KafkaConfig, contract_topics, ensure_topics

ENV_BOOTSTRAP = "QUANZI_KAFKA_BOOTSTRAP_SERVERS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="servicekit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default=os.environ.get(ENV_BOOTSTRAP, "127.0.0.1:9092"))
    commands = parser.add_subparsers(dest="command", required=True)
    broker = commands.add_parser("broker", help="run the dev broker until interrupted")
    broker.add_argument("--port", type=int, default=9092)
    commands.add_parser("provision", help="create the contract topics and their DLQs")
    replay = commands.add_parser("dlq-replay", help="republish a dead-letter topic")
    replay.add_argument("topic")
    catalog = commands.add_parser("catalog", help="generate docs/events.md from contracts/")
    catalog.add_argument("out", nargs="?", default="docs/events.md")
    catalog.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    config = KafkaConfig(bootstrap_servers=args.bootstrap)

    if args.command == "broker":
        return _run_broker(args.port)
    if args.command == "provision":
        created = asyncio.run(ensure_topics(config, contract_topics(Registry.load())))
        print(f"created {len(created)} topic(s): {', '.join(created) or 'none needed'}")
        return 0
    if args.command == "dlq-replay":
        count = asyncio.run(replay_dlq(config, args.topic, progress=_print_progress))
        print(f"\nreplayed {count} record(s) from {args.topic}.dlq to {args.topic}")
        return 0
    return _catalog(Path(args.out), check=args.check)


def _print_progress(done: int) -> None:
    print(f"\r{done} replayed", end="", file=sys.stderr, flush=True)


def _run_broker(port: int) -> int:
    with DevBroker(port=port) as broker:
        print(f"dev broker on {broker.bootstrap_servers}; Ctrl-C stops it", flush=True)
        signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
        signal.sigwait(signals)
    return 0


def _catalog(out: Path, *, check: bool) -> int:
    rendered = render_catalog(Registry.load())
    if check:
        if not out.exists() or out.read_text(encoding="utf-8") != rendered:
            print(f"{out} is stale: run `make docs`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(rendered, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
