"""The probe worker is a producer like any other: its events must match the registry."""

from __future__ import annotations

import pytest

from servicekit.contracts import ContractError, Registry
from servicekit.probe import probe_event


def test_probe_events_match_their_contract() -> None:
    registry = Registry.load()
    registry.validate(probe_event("platform.selftest", "s1", 1, 1, poison=True, padding=8))
    with pytest.raises(ContractError):  # the tests' per-run topics are not the contract's
        registry.validate(probe_event("probe-123", "s1", 1, 1))
