"""CSV export shared by the services' read models: rows as ``text/csv`` (UTF-8 with a BOM,
so spreadsheet programs read Chinese names right), when the caller asks ``?format=csv``
or sends ``Accept: text/csv``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from fastapi import Response

CSV_MEDIA_TYPE = "text/csv"


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "The figures; `format=csv`: the same rows as CSV",
    }
}


def wants_csv(format: Format | None, accept: str | None) -> bool:
    """CSV when the query asks for it, or, without a ``format``, when the Accept header
    names ``text/csv`` (a browser's ``*/*`` still gets JSON)."""
    if format is not None:
        return format is Format.CSV
    media = (part.split(";", 1)[0].strip().lower() for part in (accept or "").split(","))
    return CSV_MEDIA_TYPE in media


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return Response(
        content="\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A cell as written: None empty; text that a spreadsheet would run as a formula (a
    community named ``=HYPERLINK(...)``) kept as text with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
