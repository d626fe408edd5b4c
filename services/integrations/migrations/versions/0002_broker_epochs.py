"""servicekit tables, second version: broker_epochs (recovery when the broker comes back empty)."""

from servicekit.migrations import create_kit_tables_v2 as upgrade
from servicekit.migrations import drop_kit_tables_v2 as downgrade

revision, down_revision = "0002", "0001"
__all__ = ["downgrade", "upgrade"]
