"""CSV export: every report's rows as ``text/csv`` when the caller asks ``?format=csv``.
The helper is servicekit's (activities' campaign reviews export the same way)."""

from __future__ import annotations

from servicekit.export import CSV_RESPONSE, Format, csv_response

__all__ = ["CSV_RESPONSE", "Format", "csv_response"]
