"""Async engines and one-transaction-per-use-case sessions for PostgreSQL and SQLite."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import Counter
from sqlalchemy import ColumnElement, Select, Table, bindparam, event, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY_OPTION = "quanzi_read_only"


def create_engine(
    database_url: str, *, pool_size: int = 10, pre_ping: bool = False, echo: bool = False
) -> AsyncEngine:
    """``pre_ping`` off by default: it costs a round trip on every checkout (a join took
    three). Without it, the first statement on a connection the server dropped fails, and
    SQLAlchemy then invalidates the whole pool, so a database restart costs one failed
    request per process, not one ping per transaction forever."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url, echo=echo)
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=3600,
        echo=echo,
    )


def _sqlite_engine(database_url: str, *, echo: bool) -> AsyncEngine:
    url = make_url(database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # One connection per process: SQLite has one writer anyway, and transactions queued
    # in asyncio are served in order, while two connections fight in SQLite's busy
    # handler (sleep and retry) and starve each other (p99 commit-to-publish 100+ ms).
    # Code must therefore never hold two sessions at once in one task.
    engine = create_async_engine(
        database_url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own transactions, so that BEGIN IMMEDIATE below is ours to send.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later
        # writes can fail with SQLITE_BUSY without waiting for the busy timeout.
        # Read-only work opts out (see ``read_only``): WAL readers never wait for writers.
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One use case, one transaction: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def read_only(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A transaction that only reads: on SQLite it does not take the write lock."""
    async with sessions() as session, session.begin():
        await session.connection(execution_options={READ_ONLY_OPTION: True})
        yield session


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, whichever driver reported it (None if unknown)."""
    orig = getattr(error, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


# A deadlock or a serialization failure: PostgreSQL rolled the transaction back, and the
# same transaction run again will normally succeed.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


RETRIED = Counter(
    "quanzi_db_retried_total",
    "Transactions run again after a deadlock or a serialization failure",
    ["sqlstate"],
)


def is_retryable(error: BaseException) -> bool:
    """True (and counted in ``quanzi_db_retried_total``) for a deadlock or a serialization
    failure: the caller runs its transaction again. The count should stay at zero where
    locks are taken in one order; a test or an alert can watch it."""
    state = sqlstate(error)
    if state not in RETRYABLE_SQLSTATES:
        return False
    RETRIED.labels(state).inc()
    return True


@functools.cache
def insert_ignore_statement(table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table``, built once per table and executed
    with a row of parameters; the same SQL on PostgreSQL and SQLite."""
    return postgresql.insert(table).on_conflict_do_nothing()


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT that does nothing on a unique conflict; True when the row was inserted."""
    result = await session.execute(insert_ignore_statement(table), values)
    return bool(getattr(result, "rowcount", 0) == 1)


def dialect_of(session: AsyncSession) -> str:
    """The session's backend by name (``postgresql``, ``sqlite``): the key of statements
    built once per backend."""
    return str(session.get_bind().dialect.name)


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """An INSERT with the session's backend's ``ON CONFLICT`` clauses (PostgreSQL or SQLite)."""
    return insert_for(dialect_of(session), table)


def insert_for(dialect: str, table: Table) -> Any:
    """``dialect_insert`` by the backend's name, for a statement built once per backend."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def insert_ignore_returning(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], column: ColumnElement[Any]
) -> list[Any]:
    """Multi-row INSERT skipping unique conflicts; returns ``column`` of the rows inserted.

    The rows go as executemany parameters, not as ``.values(rows)``: one cached statement
    that SQLAlchemy batches itself ("insertmanyvalues"), instead of a new 3,000-parameter
    statement compiled for every batch, which cost most of a consumer's CPU.
    """
    if not rows:
        return []
    statement = _ignore_returning_statement(dialect_of(session), table, str(column.key))
    return list((await session.execute(statement, rows)).scalars())


@functools.lru_cache(maxsize=256)
def _ignore_returning_statement(dialect: str, table: Table, column: str) -> Any:
    """Built once per table (every consumer batch's inbox claim is one): building a
    statement and its cache key cost more than a small batch's execution (profiled)."""
    return insert_for(dialect, table).on_conflict_do_nothing().returning(table.c[column])


@functools.lru_cache(maxsize=256)
def overwrite_on_conflict(key: tuple[str, ...], columns: tuple[str, ...]) -> Callable[[Any], Any]:
    """``insert_many(..., conflict=overwrite_on_conflict(key, columns))``: a row whose
    ``key`` exists overwrites its ``columns``. The same arguments give the same function,
    so the statement is built once."""

    def overwrite(statement: Any) -> Any:
        excluded = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=list(key), set_={name: excluded[name] for name in columns}
        )

    return overwrite


@functools.lru_cache(maxsize=256)
def upsert_statement(
    dialect: str, table: Table, key: tuple[str, ...], columns: tuple[str, ...]
) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET columns``, built once per backend, table
    and columns, to execute with many rows (an executemany)."""
    return overwrite_on_conflict(key, columns)(insert_for(dialect, table))


@functools.lru_cache(maxsize=256)
def select_by_keys(table: Table, key: tuple[str, ...], columns: tuple[str, ...] = ()) -> Any:
    """``SELECT columns (all by default) FROM table WHERE (key) IN :keys``, built once;
    execute with ``{"keys": [tuple, ...]}`` (an expanding parameter, rows by composite key
    on PostgreSQL and SQLite)."""
    chosen = [table.c[name] for name in columns] if columns else [table]
    matched = tuple_(*(table.c[name] for name in key)).in_(bindparam("keys", expanding=True))
    return select(*chosen).where(matched)


def ignore_conflicts(statement: Any) -> Any:
    """``insert_many(..., conflict=ignore_conflicts)``: skip rows whose key exists. One
    function, so the statement is built once (a lambda per call is a new cache key)."""
    return statement.on_conflict_do_nothing()


async def insert_many(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Callable[[Any], Any] | None = None,
) -> None:
    """INSERT ``rows`` (all with the same keys) in one statement, in their order;
    ``conflict`` may add an ON CONFLICT clause to the dialect's insert (its
    ``excluded`` is the row being inserted).

    On PostgreSQL this is ``INSERT … SELECT … FROM unnest(<an array per column>)``: one
    statement and one execution whatever the number of rows. An executemany is one
    round trip but an execution per row on the server, and SQLAlchemy processes every
    row's parameters in Python: about half of a rewards consumer batch's time went
    there (profiled). The arrays are read in order, so rows are inserted (and take
    sequence ids, and lock conflicting rows) in the order given. On SQLite an
    executemany (there is no unnest; it runs in process anyway).

    Unlike an executemany, one statement updates a row at most once: with ``ON
    CONFLICT DO UPDATE`` the rows' keys must be distinct (merge them first). A None
    in a JSON column is SQL NULL, not JSON ``null``.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    dialect = dialect_of(session)
    statement = _insert_many_statement(dialect, table, columns, conflict)
    parameters: Any
    if dialect == "postgresql":
        parameters = {f"unnest_{name}": [row[name] for row in rows] for name in columns}
    else:
        parameters = list(rows)
    await session.execute(statement, parameters)


@functools.lru_cache(maxsize=512)
def _insert_many_statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    conflict: Callable[[Any], Any] | None,
) -> Any:
    """``insert_many``'s statement, built once per table, columns and conflict clause:
    building it and its cache key cost more than running it (profiled on the join path,
    whose outbox insert is one). A ``conflict`` made anew per call (a closure) only misses
    this cache, whose size is bounded."""
    if dialect == "postgresql":
        # dimensions=1: a JSON value that is itself a list is one element, not a row.
        arrays = [
            bindparam(f"unnest_{name}", type_=postgresql.ARRAY(table.c[name].type, dimensions=1))
            for name in columns
        ]
        unnested = func.unnest(*arrays).table_valued(*columns).render_derived()
        statement: Any = postgresql.insert(table).from_select(list(columns), select(unnested))
    else:
        statement = sqlite.insert(table)
    return conflict(statement) if conflict is not None else statement


Query = TypeVar("Query", bound=Select[Any])


def where_given(query: Query, *filters: tuple[Any, object]) -> Query:
    """``query`` narrowed by ``column == value`` for each filter whose value was given (not
    None): the optional equality filters of a list endpoint."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query
