"""FetchPacer: short broker waits while records flow, long ones after a quiet spell."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

from servicekit.kafka import FetchPacer, KafkaConfig

CONFIG = KafkaConfig(
    "unused:9092", fetch_max_wait_ms=10, idle_fetch_max_wait_ms=250, idle_after_s=2
)


def _consumer() -> Any:
    return SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=10))


def test_waits_long_only_after_the_quiet_spell_and_short_again_on_the_first_record() -> None:
    consumer = _consumer()
    pacer = FetchPacer(consumer, CONFIG)
    pacer.saw(False, now=100.0)
    pacer.saw(False, now=101.9)
    assert consumer._fetcher._fetch_max_wait_ms == 10
    pacer.saw(False, now=102.0)
    assert consumer._fetcher._fetch_max_wait_ms == 250
    pacer.saw(True, now=102.1)
    assert consumer._fetcher._fetch_max_wait_ms == 10
    pacer.saw(False, now=103.0)  # the quiet spell starts again from here
    pacer.saw(False, now=104.5)
    assert consumer._fetcher._fetch_max_wait_ms == 10


def test_no_idle_wait_configured_keeps_the_short_one() -> None:
    consumer = _consumer()
    pacer = FetchPacer(consumer, KafkaConfig("unused:9092", fetch_max_wait_ms=10))
    pacer.saw(False, now=0.0)
    pacer.saw(False, now=60.0)
    assert consumer._fetcher._fetch_max_wait_ms == 10


def test_aiokafka_still_reads_the_wait_from_the_attribute_the_pacer_sets() -> None:
    # The pacer relies on a private attribute of aiokafka's Fetcher: an upgrade that
    # renames it must fail here, not silently leave consumers at one wait.
    assert "self._fetch_max_wait_ms" in inspect.getsource(Fetcher)
