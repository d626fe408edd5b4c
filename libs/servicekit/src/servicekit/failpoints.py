"""Named crash points for reliability tests: ``QUANZI_FAILPOINTS=relay.after_ack``.

When a listed point is reached the process kills itself with SIGKILL, exactly as
``kill -9`` would, so tests can crash a process between two precise steps.
Unset in production: the check is one frozenset lookup.
"""

from __future__ import annotations

import os
import signal

ENV_FAILPOINTS = "QUANZI_FAILPOINTS"
_armed = frozenset(filter(None, os.environ.get(ENV_FAILPOINTS, "").split(",")))


def hit(name: str) -> None:
    if name in _armed:
        os.kill(os.getpid(), signal.SIGKILL)
