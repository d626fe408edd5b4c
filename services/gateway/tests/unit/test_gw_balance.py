"""Unit tests of gateway.domain.balance: replica lists and round robin over breakers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.balance import Replicas, replica_bases, with_address
from gateway.domain.circuit import CircuitBreaker


def breaker() -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=1, reset_s=10)


def test_an_upstream_names_one_base_or_several() -> None:
    assert replica_bases("http://a:8001/") == ["http://a:8001"]
    assert replica_bases(" http://a:1, https://b:2 ") == ["http://a:1", "https://b:2"]


@pytest.mark.parametrize("bad", ["", " , ", "a:8001", "ftp://a", "http://a,http://a"])
def test_a_malformed_list_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        replica_bases(bad)


def test_a_resolved_address_replaces_the_host_and_keeps_the_port() -> None:
    assert with_address("http://rewards:8004", "10.0.0.7") == "http://10.0.0.7:8004"
    assert with_address("http://rewards", "fd00::7") == "http://[fd00::7]"


@given(st.integers(2, 6), st.sets(st.integers(0, 5)), st.integers(1, 30))
def test_round_robin_spreads_evenly_over_the_replicas_that_admit(
    count: int, opened: set[int], requests: int
) -> None:
    replicas = Replicas([f"http://r{n}" for n in range(count)], breaker)
    for n in opened & set(range(count)):
        replicas.breaker(f"http://r{n}").trip(0.0)
    admitting = [f"http://r{n}" for n in range(count) if n not in opened]
    chosen = [replicas.choose(1.0) for _ in range(requests)]
    if not admitting:
        assert chosen == [None] * requests
        return
    bases = [c[0] for c in chosen if c is not None]
    assert set(bases) <= set(admitting)
    counts = [bases.count(base) for base in admitting]
    assert max(counts) - min(counts) <= 1  # never two to one before one to each


def test_a_re_resolved_list_keeps_the_breakers_of_replicas_still_there() -> None:
    replicas = Replicas(["http://a", "http://b"], breaker)
    replicas.breaker("http://b").trip(0.0)
    replicas.replace(["http://b", "http://c"])
    assert replicas.bases == ["http://b", "http://c"]
    assert replicas.breaker("http://b").acquire(1.0) is None  # still open
    assert replicas.breaker("http://c").acquire(1.0) is not None
    replicas.replace([])  # a DNS answer with nothing keeps what was known
    assert replicas.bases == ["http://b", "http://c"]


def test_retry_after_is_the_soonest_replica() -> None:
    replicas = Replicas(["http://a", "http://b"], breaker)
    replicas.breaker("http://a").trip(0.0)
    replicas.breaker("http://b").trip(4.0)
    assert replicas.retry_after(5.0) == 5
