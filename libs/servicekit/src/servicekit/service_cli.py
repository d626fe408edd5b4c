"""The command line every service has: ``quanzi-<service> migrate`` and ``serve``.

A service package ``<name>`` provides ``<name>.settings.Settings`` and
``<name>.app.create_app``; its ``alembic.ini`` sits beside its ``src/``.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import uvicorn

from servicekit.migrations import upgrade
from servicekit.settings import ServiceSettings


def service_main(service: str, *, default_port: int, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"quanzi-{service}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")
    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (PostgreSQL only: the relay, consumers and "
        "timers are safe across processes there; SQLite keeps one process per service)",
    )
    args = parser.parse_args(argv)
    settings: ServiceSettings = importlib.import_module(f"{service}.settings").Settings()
    if args.command == "migrate":
        upgrade(alembic_ini(service), settings.database_url)
        print(f"{service}: database at head")
        return 0
    if args.workers > 1 and not settings.database_url.startswith("postgresql"):
        parser.error("--workers above 1 needs PostgreSQL (SQLite: one process per service)")
    uvicorn.run(
        f"{service}.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        workers=args.workers,
        # SIGTERM (Kubernetes, compose): stop accepting, finish what is in flight within this,
        # then the lifespan's shutdown stops the runtime (servicekit.app.Runtime.stop).
        timeout_graceful_shutdown=settings.shutdown_http_timeout_s,
    )
    return 0


def alembic_ini(service: str) -> Path:
    package_file = importlib.import_module(service).__file__
    assert package_file is not None
    return Path(package_file).resolve().parents[2] / "alembic.ini"
