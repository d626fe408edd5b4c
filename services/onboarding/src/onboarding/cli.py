"""quanzi-onboarding: migrate the database, serve the API, import the member directory.

quanzi-onboarding migrate | serve [--port N]
quanzi-onboarding members import FILE --tenant TENANT_ID [--format jsonl|csv] [--batch 1000]
                                      [--errors errors.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Never, TextIO

from sqlalchemy.exc import OperationalError
from tqdm import tqdm

from onboarding.directory.importer import (
    ImportFileError,
    LineResult,
    Summary,
    count_rows,
    error_line,
    format_of,
    import_rows,
    read_rows,
)
from onboarding.directory.service import MAX_BATCH, Directory
from onboarding.settings import Settings
from servicekit.db import create_engine, session_factory
from servicekit.problems import Problem
from servicekit.service_cli import service_main


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["members"]:
        return asyncio.run(_members(args[1:]))
    return service_main("onboarding", default_port=8001, argv=args)


def _batch_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_BATCH}")
    return size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quanzi-onboarding members")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("import", help="upsert members from a JSON lines or CSV file")
    load.add_argument("file", type=Path)
    load.add_argument("--tenant", required=True, help="the tenant's id")
    load.add_argument("--format", choices=["jsonl", "csv"], help="default: by the extension")
    load.add_argument("--batch", type=_batch_size, default=MAX_BATCH, help="rows per transaction")
    load.add_argument("--errors", type=Path, help="write failed rows here (JSON lines)")
    return parser


async def _members(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    engine = create_engine(settings.database_url)
    try:
        directory = Directory(session_factory(engine), bulk_backlog=settings.outbox_bulk_backlog)
        return await _import(directory, args)
    except (ImportFileError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Problem as problem:
        print(f"error: {problem.title}: {problem.detail or ''}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(
            f"error: database not ready ({error.orig}); run `quanzi-onboarding migrate` first",
            file=sys.stderr,
        )
        return 1
    finally:
        await engine.dispose()


async def _import(directory: Directory, args: argparse.Namespace) -> int:
    path: Path = args.file
    fmt = format_of(path, args.format)
    started = time.monotonic()
    with ExitStack() as stack:
        source = stack.enter_context(path.open(encoding="utf-8-sig", newline=""))
        errors = None
        if args.errors is not None:
            errors = stack.enter_context(args.errors.open("w", encoding="utf-8"))
        bar = stack.enter_context(
            tqdm(total=count_rows(path, fmt), unit="row", file=sys.stderr, mininterval=0.5)
        )
        summary = Summary()

        def report(results: list[LineResult]) -> None:
            summary.add(results)
            _write_errors(results, errors, bar)
            bar.set_postfix(errors=summary.failed, refresh=False)
            bar.update(len(results))

        await import_rows(
            directory, args.tenant, read_rows(source, fmt), batch_size=args.batch, report=report
        )
    _print_summary(path, summary, time.monotonic() - started, args.errors)
    return 1 if summary.failed else 0


def _write_errors(results: list[LineResult], out: TextIO | None, bar: tqdm[Never]) -> None:
    for item in results:
        if item.result.problem is None:
            continue
        if out is not None:
            out.write(error_line(item) + "\n")
        else:
            bar.write(error_line(item), file=sys.stderr)


def _print_summary(path: Path, summary: Summary, seconds: float, errors: Path | None) -> None:
    counts = {str(outcome): n for outcome, n in summary.counts.items()}
    rate = summary.rows / seconds if seconds > 0 else 0.0
    print(
        f"{path}: {summary.rows} rows in {seconds:.1f}s ({rate:.0f} rows/s): "
        f"created {counts['created']}, updated {counts['updated']}, "
        f"unchanged {counts['unchanged']}, failed {counts['failed']}"
    )
    if summary.failed and errors is not None:
        print(f"failed rows (with their line numbers) are in {errors}")


if __name__ == "__main__":
    raise SystemExit(main())
