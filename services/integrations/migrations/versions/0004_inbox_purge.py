"""servicekit tables, third version: the inbox indexed by the time applied (its purge)."""

from servicekit.migrations import create_kit_tables_v3 as upgrade
from servicekit.migrations import drop_kit_tables_v3 as downgrade

revision, down_revision = "0004", "0003"
__all__ = ["downgrade", "upgrade"]
