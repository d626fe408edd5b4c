"""Unit tests for servicekit.failpoints: a no-op unless the point is armed."""

from __future__ import annotations

import os
import signal

import pytest

from servicekit import failpoints


@pytest.fixture
def kills(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    recorded: list[tuple[int, int]] = []
    monkeypatch.setattr(failpoints.os, "kill", lambda pid, sig: recorded.append((pid, sig)))
    return recorded


def test_nothing_is_armed_in_the_test_run() -> None:
    assert os.environ.get(failpoints.ENV_FAILPOINTS) is None
    assert failpoints._armed == frozenset()


def test_an_unarmed_point_is_a_no_op(kills: list[tuple[int, int]]) -> None:
    assert failpoints.hit("relay.after_ack") is None
    assert failpoints.hit("") is None
    assert kills == []


def test_an_armed_point_kills_this_process(
    monkeypatch: pytest.MonkeyPatch, kills: list[tuple[int, int]]
) -> None:
    monkeypatch.setattr(failpoints, "_armed", frozenset({"relay.after_ack"}))

    failpoints.hit("consumer.after_db_commit")
    assert kills == []

    failpoints.hit("relay.after_ack")
    assert kills == [(os.getpid(), signal.SIGKILL)]
