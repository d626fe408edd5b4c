"""servicekit tables: outbox, inbox, timers, idempotency keys."""

from servicekit.migrations import create_kit_tables_v1 as upgrade
from servicekit.migrations import drop_kit_tables_v1 as downgrade

revision, down_revision = "0001", None
__all__ = ["downgrade", "upgrade"]
