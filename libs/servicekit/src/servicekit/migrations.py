"""Alembic helpers shared by every service: the env runner and the kit tables' DDL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from servicekit.db import create_engine
from servicekit.tables import KIT_TABLES_V1, KIT_TABLES_V2, kit_metadata


def run_env(metadata: Sequence[MetaData], database_url: str) -> None:
    """Body of a service's ``migrations/env.py`` (online and offline modes)."""
    url = context.config.attributes.get("database_url") or database_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=list(metadata), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata)
        return
    asyncio.run(_run_async(url, metadata))


async def _run_async(url: str, metadata: Sequence[MetaData]) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def _run(connection: Connection, metadata: Sequence[MetaData]) -> None:
    context.configure(
        connection=connection,
        target_metadata=list(metadata),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def create_kit_tables_v1() -> None:
    """Create servicekit's tables; called by each service's first migration.

    The tables are created from ``servicekit.tables``. Before changing one of
    them, freeze this function's DDL as it is and add a ``..._v2`` with the
    alteration, so that old migrations keep producing the old shape.
    """
    kit_metadata.create_all(op.get_bind(), tables=list(KIT_TABLES_V1))


def drop_kit_tables_v1() -> None:
    kit_metadata.drop_all(op.get_bind(), tables=list(KIT_TABLES_V1))


def create_kit_tables_v2() -> None:
    """Add ``broker_epochs`` (the relay's memory of the broker it published to)."""
    kit_metadata.create_all(op.get_bind(), tables=list(KIT_TABLES_V2))


def drop_kit_tables_v2() -> None:
    kit_metadata.drop_all(op.get_bind(), tables=list(KIT_TABLES_V2))


def create_kit_tables_v3() -> None:
    """Index the inbox by the time an event was applied: the consumers' purge reads by it.
    (A database created since has it from v1, which creates the tables as declared.)"""
    op.create_index("ix_inbox_applied_at", "inbox", ["applied_at"], if_not_exists=True)


def drop_kit_tables_v3() -> None:
    op.drop_index("ix_inbox_applied_at", table_name="inbox")


def upgrade(alembic_ini: Path, database_url: str, revision: str = "head") -> None:
    """``alembic upgrade`` for one service database, from code (CLI, tests, make run)."""
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, revision)
