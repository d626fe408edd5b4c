"""A consumer stopped while it is still joining its group returns at once: it has read
nothing, so there is no batch to finish (the runtime would otherwise wait its whole
shutdown budget for a join the broker may hold for seconds)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from servicekit import consumer as consumer_module
from servicekit.consumer import ConsumerRunner
from servicekit.kafka import KafkaConfig


class JoiningForever:
    """An AIOKafkaConsumer whose group join never completes."""

    def __init__(self) -> None:
        self.stopped = False
        self.joining = asyncio.Event()

    def subscribe(self, topics: list[str], listener: Any) -> None:
        return None

    async def start(self) -> None:
        self.joining.set()
        await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stopped = True


async def test_a_consumer_stopped_while_joining_returns_without_being_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = JoiningForever()
    monkeypatch.setattr(consumer_module, "make_consumer", lambda kafka, group_id: fake)
    runner = ConsumerRunner(
        group_id="g",
        topics=["t"],
        handlers={},
        sessions=None,  # type: ignore[arg-type]  # never reached: nothing is read
        kafka=KafkaConfig("unused:9092"),
        dlq_producer=None,  # type: ignore[arg-type]
        watch_broker=False,
    )
    running = asyncio.create_task(runner.run())
    await fake.joining.wait()
    runner.stop()
    await running  # returns: neither hangs nor raises CancelledError
    assert not running.cancelled() and fake.stopped
