"""Which member identifications are worth an event.

A company's backend mints a member token each time a user opens its app, with the same
profile nearly every time. Each ``member.identified`` costs an outbox row, a publish and
a transaction in onboarding's directory, which then finds nothing changed. An
identification equal to one this process published less than ``window_s`` ago (same
tenant, member and profile) is therefore not published again: the first one is in the
outbox, which delivers it. A changed profile, or the same one after the window, is.
Each gateway replica remembers its own; at worst each publishes once per window.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

MAX_REMEMBERED = 100_000  # about 10 MB; the oldest are forgotten first


def fingerprint(tenant_id: str, external_id: str, profile: dict[str, Any]) -> bytes:
    canonical = json.dumps([tenant_id, external_id, profile], sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


class RecentIdentifications:
    """The identifications published lately, oldest first, with when."""

    def __init__(self, window_s: float, max_remembered: int = MAX_REMEMBERED) -> None:
        self.window_s = window_s
        self.max_remembered = max_remembered
        self._published: OrderedDict[bytes, float] = OrderedDict()

    def is_news(self, print_: bytes, now: float) -> bool:
        """Whether an identification with this fingerprint should be published at ``now``."""
        published_at = self._published.get(print_)
        return published_at is None or now - published_at >= self.window_s

    def published(self, print_: bytes, now: float) -> None:
        """Remember a publication (call once its transaction committed)."""
        self._published[print_] = now
        self._published.move_to_end(print_)
        while len(self._published) > self.max_remembered:
            self._published.popitem(last=False)
