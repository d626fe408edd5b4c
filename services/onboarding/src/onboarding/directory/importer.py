"""Bulk import of the member directory from a file: JSON lines or CSV, streamed.

The file is read row by row and sent in batches through ``Directory.upsert_batch``, the use
case behind ``POST /v1/onboarding/members/batch``: the same validation, the same per-row
results, the same idempotency (re-importing a file changes and publishes nothing). Memory
stays at one batch whatever the file's size.

CSV: a header row; ``external_id`` (required), ``display_name``, ``tags`` (separated by
``|``); every other column is a profile field (text). Empty cells are left out, so they keep
what the directory has. JSON lines: one object per line, shaped like a batch row.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from onboarding.directory.service import (
    BACKLOG_RETRY_S,
    Directory,
    Outcome,
    RowResult,
    invalid_row,
)
from servicekit.problems import Problem

Format = Literal["jsonl", "csv"]
TAG_SEPARATOR = "|"
COLUMNS = ("external_id", "display_name", "tags")
T = TypeVar("T")


class ImportFileError(ValueError):
    """The file cannot be imported at all (no external_id column, unknown format)."""


@dataclass(frozen=True)
class SourceRow:
    line: int  # where the row ends in the file (1-based), for the error report
    raw: object  # a row for directory.parse_row, or None when the line is unreadable
    problem: Problem | None = None


@dataclass(frozen=True)
class LineResult:
    line: int
    result: RowResult


@dataclass
class Summary:
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        return self.counts[Outcome.FAILED]

    def add(self, results: Iterable[LineResult]) -> None:
        for item in results:
            self.counts[item.result.outcome] += 1


def format_of(path: Path, given: str | None) -> Format:
    name = given or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if name not in ("jsonl", "csv"):
        raise ImportFileError(f"unknown format {name!r}: jsonl or csv")
    return "csv" if name == "csv" else "jsonl"


def read_rows(file: TextIO, fmt: Format) -> Iterator[SourceRow]:
    return _csv_rows(file) if fmt == "csv" else _jsonl_rows(file)


def _jsonl_rows(file: TextIO) -> Iterator[SourceRow]:
    for number, text in enumerate(file, start=1):
        if not text.strip():
            continue
        try:
            yield SourceRow(number, json.loads(text))
        except ValueError as error:
            yield SourceRow(number, None, invalid_row(f"not a JSON object: {error}"))


def _csv_rows(file: TextIO) -> Iterator[SourceRow]:
    reader = csv.DictReader(file)
    if reader.fieldnames is None or "external_id" not in reader.fieldnames:
        raise ImportFileError("the CSV header needs an external_id column")
    for record in reader:
        if None in record:  # DictReader's key for cells beyond the header
            problem = invalid_row("the row has more cells than the header has columns")
            yield SourceRow(reader.line_num, None, problem)
        else:
            yield SourceRow(reader.line_num, csv_row(record))


def csv_row(record: dict[str, str]) -> dict[str, Any]:
    """A CSV record as a batch row: the known columns, the others as profile fields."""
    row: dict[str, Any] = {}
    profile: dict[str, str] = {}
    for column, value in record.items():
        if value is None or value.strip() == "":
            continue  # an empty cell keeps what the directory has
        if column == "external_id":
            row[column] = value.strip()
        elif column == "display_name":
            row[column] = value
        elif column == "tags":
            row[column] = [t.strip() for t in value.split(TAG_SEPARATOR) if t.strip()]
        else:
            profile[column] = value
    if profile:
        row["profile"] = profile
    return row


def count_rows(path: Path, fmt: Format) -> int:
    """Rows in the file (for the progress bar's total): non-blank lines, minus a CSV header.
    Quoted CSV cells spanning lines make it an estimate."""
    with path.open("rb") as file:
        lines = sum(1 for line in file if line.strip())
    return max(lines - 1, 0) if fmt == "csv" else lines


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_rows(
    directory: Directory,
    tenant_id: str,
    rows: Iterable[SourceRow],
    *,
    batch_size: int,
    report: Callable[[list[LineResult]], None],
    wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Summary:
    """Send the rows in batches; ``report`` sees each batch's results (progress, errors).
    A batch refused for the publishing backlog is sent again once the relay caught up."""
    summary = Summary()
    for batch in batched(rows, batch_size):
        readable = [row for row in batch if row.problem is None]
        applied = iter(await _send(directory, tenant_id, [row.raw for row in readable], wait))
        results = [
            LineResult(row.line, next(applied) if row.problem is None else _unreadable(row))
            for row in batch
        ]
        summary.add(results)
        report(results)
    return summary


async def _send(
    directory: Directory,
    tenant_id: str,
    raws: list[object],
    wait: Callable[[float], Awaitable[None]],
) -> list[RowResult]:
    while True:
        try:
            return await directory.upsert_batch(tenant_id, raws)
        except Problem as problem:
            if problem.slug != "publishing-backlog":
                raise
            await wait(BACKLOG_RETRY_S)


def _unreadable(row: SourceRow) -> RowResult:
    return RowResult(None, Outcome.FAILED, row.problem)


def error_line(item: LineResult) -> str:
    """One failed row of the error report (JSON lines), with its line in the file."""
    problem = item.result.problem
    assert problem is not None
    record = {
        "line": item.line,
        "external_id": item.result.external_id,
        "status": problem.status,
        "type": problem.slug,
        "title": problem.title,
        "detail": problem.detail,
        "errors": problem.extensions.get("errors", []),
    }
    return json.dumps(record, ensure_ascii=False)
