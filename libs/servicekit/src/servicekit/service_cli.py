"""The command line every service has: ``quanzi-<service> migrate`` and ``serve``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import uvicorn

from servicekit.migrations import upgrade
from servicekit.settings import ServiceSettings


def service_main(
    *,
    service: str,
    settings_factory: Callable[[], ServiceSettings],
    alembic_ini: Path,
    app_path: str,
    default_port: int,
    argv: list[str] | None = None,
) -> int:
    parser = argparse.ArgumentParser(prog=f"quanzi-{service}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args(argv)
    settings = settings_factory()
    if args.command == "migrate":
        upgrade(alembic_ini, settings.database_url)
        print(f"{service}: database at head")
        return 0
    uvicorn.run(
        app_path,
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0
