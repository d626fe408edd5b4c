"""servicekit's database mechanisms on SQLite and PostgreSQL: idempotency keys,
timers, the outbox's transaction boundary and the inbox helper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit import timers as timer_api
from servicekit.consumer import ConsumerRunner
from servicekit.db import (
    create_engine,
    dialect_of,
    ignore_conflicts,
    insert_ignore,
    insert_many,
    select_by_keys,
    session_factory,
    transaction,
    upsert_statement,
)
from servicekit.events import new_event
from servicekit.idempotency import fingerprint, run_idempotent
from servicekit.kafka import KafkaConfig
from servicekit.outbox import _wakeups, add_event
from servicekit.problems import Problem
from servicekit.tables import inbox, kit_metadata, outbox, timers
from servicekit.timers import Timer, TimerRunner
from servicekit.types import utcnow

test_metadata = MetaData()
effects = Table(
    "effects",
    test_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(64), nullable=False),
)

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(kit_metadata.create_all)
        await connection.run_sync(test_metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


async def count(sessions: Sessions, table: Table) -> int:
    async with transaction(sessions) as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def make_effect(label: str, delay: float = 0.0):  # type: ignore[no-untyped-def]
    async def operation(session: AsyncSession) -> tuple[int, dict[str, str]]:
        await session.execute(effects.insert().values(label=label))
        await asyncio.sleep(delay)
        return 201, {"label": label}

    return operation


async def test_same_key_and_body_replays_the_first_response(sessions: Sessions) -> None:
    request = fingerprint("POST", "/v1/redeem", {"item": 1})
    first = await run_idempotent(
        sessions, tenant_id="t1", key="k1", request_hash=request, operation=make_effect("first")
    )
    second = await run_idempotent(
        sessions, tenant_id="t1", key="k1", request_hash=request, operation=make_effect("second")
    )
    assert (first.status, first.body, first.replayed) == (201, {"label": "first"}, False)
    assert (second.status, second.body, second.replayed) == (201, {"label": "first"}, True)
    assert second.response().headers["Idempotent-Replayed"] == "true"
    assert await count(sessions, effects) == 1


async def test_same_key_with_another_body_is_refused(sessions: Sessions) -> None:
    await run_idempotent(
        sessions,
        tenant_id="t1",
        key="k1",
        request_hash=fingerprint("POST", "/x", {"a": 1}),
        operation=make_effect("a"),
    )
    with pytest.raises(Problem) as refused:
        await run_idempotent(
            sessions,
            tenant_id="t1",
            key="k1",
            request_hash=fingerprint("POST", "/x", {"a": 2}),
            operation=make_effect("b"),
        )
    assert refused.value.status == 422
    assert refused.value.slug == "idempotency-key-reused"
    assert await count(sessions, effects) == 1


async def test_keys_are_scoped_per_tenant(sessions: Sessions) -> None:
    request = fingerprint("POST", "/x", {})
    for tenant in ("t1", "t2"):
        result = await run_idempotent(
            sessions,
            tenant_id=tenant,
            key="same",
            request_hash=request,
            operation=make_effect(tenant),
        )
        assert result.replayed is False
    assert await count(sessions, effects) == 2


async def test_concurrent_duplicates_produce_one_effect(sessions: Sessions) -> None:
    request = fingerprint("POST", "/x", {"n": 1})
    results = await asyncio.gather(
        *(
            run_idempotent(
                sessions,
                tenant_id="t1",
                key="race",
                request_hash=request,
                operation=make_effect(f"call-{i}", delay=0.05),
            )
            for i in range(8)
        )
    )
    assert await count(sessions, effects) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len({r.body["label"] for r in results}) == 1


async def test_failed_request_stores_nothing_and_expired_keys_are_reusable(
    sessions: Sessions,
) -> None:
    async def failing(session: AsyncSession) -> tuple[int, dict[str, str]]:
        await session.execute(effects.insert().values(label="half-written"))
        raise Problem(409, "conflict", "Conflict")

    request = fingerprint("POST", "/x", {})
    with pytest.raises(Problem):
        await run_idempotent(
            sessions, tenant_id="t1", key="k", request_hash=request, operation=failing
        )
    assert await count(sessions, effects) == 0  # nothing half-written
    retried = await run_idempotent(
        sessions,
        tenant_id="t1",
        key="k",
        request_hash=request,
        operation=make_effect("retry"),
        ttl=timedelta(seconds=-1),
    )
    assert retried.replayed is False
    after_expiry = await run_idempotent(
        sessions,
        tenant_id="t1",
        key="k",
        request_hash=request,
        operation=make_effect("after-expiry"),
    )
    assert after_expiry.replayed is False
    assert await count(sessions, effects) == 2


async def test_outbox_rows_exist_only_if_the_transaction_commits(sessions: Sessions) -> None:
    wakeup = asyncio.Event()
    _wakeups.add(wakeup)
    try:
        event = new_event(
            type="quanzi.platform.probe.recorded.v1",
            source="/t",
            tenant_id="t1",
            topic="platform.selftest",
            data={"probe_id": "p", "subject": "s", "amount": 1, "seq": 1},
            key="s",
        )
        with pytest.raises(RuntimeError):
            async with transaction(sessions) as session:
                await session.execute(effects.insert().values(label="x"))
                await add_event(session, event)
                raise RuntimeError("use case failed")
        assert await count(sessions, outbox) == 0
        assert not wakeup.is_set()
        async with transaction(sessions) as session:
            await session.execute(effects.insert().values(label="x"))
            await add_event(session, event)
        assert wakeup.is_set()  # the relay is woken right after the commit
        async with transaction(sessions) as session:
            row = (await session.execute(select(outbox))).mappings().one()
        assert row["event_id"] == event.id and row["key"] == "s" and row["sent_at"] is None
        assert ["ce_tenantid", "t1"] in row["headers"]
    finally:
        _wakeups.discard(wakeup)


async def test_insert_ignore_reports_whether_the_row_was_new(sessions: Sessions) -> None:
    values = {
        "consumer_group": "g",
        "event_id": "e1",
        "topic": "t",
        "partition": 0,
        "offset": 1,
        "applied_at": utcnow(),
    }
    from servicekit.tables import inbox

    async with transaction(sessions) as session:
        assert await insert_ignore(session, inbox, values) is True
        assert await insert_ignore(session, inbox, values) is False


async def test_insert_many_keeps_order_values_and_the_conflict_clause(sessions: Sessions) -> None:
    now = utcnow()
    rows = [
        {
            "kind": "k",
            "key": f"t{n}",
            "due_at": now + timedelta(seconds=n),
            "payload": [["a", n]] if n % 2 else {"n": n},  # a list is one JSON value
            "last_error": None if n % 2 else f"e{n}",
        }
        for n in range(5)
    ]

    def keep_payload_set_error(statement):  # type: ignore[no-untyped-def]
        return statement.on_conflict_do_update(
            index_elements=[timers.c.kind, timers.c.key],
            set_={"last_error": statement.excluded.last_error},
        )

    async with transaction(sessions) as session:
        await insert_many(session, timers, rows)
        again = [{**rows[1], "payload": {}, "last_error": "again"}]
        await insert_many(session, timers, again, conflict=keep_payload_set_error)
        await insert_many(session, timers, [])
    async with transaction(sessions) as session:
        found = (await session.execute(select(timers).order_by(timers.c.id))).mappings().all()
    assert [row["key"] for row in found] == [f"t{n}" for n in range(5)]  # ids in order
    assert [row["payload"] for row in found] == [row["payload"] for row in rows]
    assert [row["due_at"] for row in found] == [row["due_at"] for row in rows]
    assert [row["last_error"] for row in found] == ["e0", "again", "e2", None, "e4"]


async def test_statements_built_once_upsert_read_by_composite_keys_and_skip_conflicts(
    sessions: Sessions,
) -> None:
    """The helpers whose statements are built once per table and backend: an upsert that
    overwrites the named columns only, a read by composite keys, ``insert_many`` with the
    shared ignore clause; the second use of each finds its statement built."""
    now = utcnow()
    key, columns = ("kind", "key"), ("last_error",)
    first = [
        {"kind": "k", "key": f"t{n}", "due_at": now, "payload": {}, "last_error": None}
        for n in range(3)
    ]
    second = [{**first[0], "payload": {"changed": True}, "last_error": "overwritten"}]
    async with transaction(sessions) as session:
        dialect = dialect_of(session)
        await session.execute(upsert_statement(dialect, timers, key, columns), first)
        await session.execute(upsert_statement(dialect, timers, key, columns), second)
        added = [{**first[1], "last_error": "ignored"}, {**first[0], "key": "t3"}]
        await insert_many(session, timers, added, conflict=ignore_conflicts)
        built = upsert_statement.cache_info().hits
        assert upsert_statement(dialect, timers, key, columns) is upsert_statement(
            dialect, timers, key, columns
        )
        assert upsert_statement.cache_info().hits == built + 2
    async with transaction(sessions) as session:
        query = select_by_keys(timers, key, ("key", "payload", "last_error"))
        assert query is select_by_keys(timers, key, ("key", "payload", "last_error"))
        wanted = {"keys": [("k", "t0"), ("k", "t1"), ("k", "t3"), ("other", "t2")]}
        found = {row.key: row for row in await session.execute(query, wanted)}
    assert sorted(found) == ["t0", "t1", "t3"]
    assert found["t0"].last_error == "overwritten" and found["t0"].payload == {}  # kept
    assert found["t1"].last_error is None  # the conflicting insert was skipped


async def test_timers_fire_once_even_with_two_runners(sessions: Sessions) -> None:
    fired: list[str] = []

    async def on_due(session: AsyncSession, timer: Timer) -> None:
        await session.execute(effects.insert().values(label=timer.key))
        fired.append(timer.key)

    past = utcnow() - timedelta(seconds=1)
    async with transaction(sessions) as session:
        for i in range(30):
            await timer_api.schedule(session, "expire", f"m{i}", past, {"i": i})
        await timer_api.schedule(session, "expire", "future", utcnow() + timedelta(hours=1), {})
    runners = [TimerRunner(sessions, {"expire": on_due}, batch_size=7) for _ in range(2)]
    while sum(await asyncio.gather(*(r.fire_due() for r in runners))):
        pass
    assert sorted(fired) == sorted(f"m{i}" for i in range(30))
    assert await count(sessions, effects) == 30


async def test_a_failing_timer_is_retried_later_and_others_still_fire(sessions: Sessions) -> None:
    async def on_due(session: AsyncSession, timer: Timer) -> None:
        await session.execute(effects.insert().values(label=timer.key))
        if timer.key == "bad":
            raise ValueError("boom")

    async with transaction(sessions) as session:
        for key in ("good", "bad"):
            await timer_api.schedule(session, "remind", key, utcnow(), {})
    assert await TimerRunner(sessions, {"remind": on_due}).fire_due() == 2
    async with transaction(sessions) as session:
        rows = {r["key"]: r for r in (await session.execute(select(timers))).mappings()}
    assert rows["good"]["fired_at"] is not None
    assert rows["bad"]["fired_at"] is None and rows["bad"]["attempts"] == 1
    assert "boom" in rows["bad"]["last_error"]
    assert rows["bad"]["due_at"] > utcnow()
    async with transaction(sessions) as session:  # the failed savepoint left no effect
        labels = list(await session.scalars(select(effects.c.label)))
    assert labels == ["good"]


async def test_a_timer_its_handler_cancels_and_replaces_stays_armed(sessions: Sessions) -> None:
    """The handler deletes its own row and schedules another kind: on SQLite the new row
    may take the freed id; it is not marked fired with the one that ran."""

    async def on_lease(session: AsyncSession, timer: Timer) -> None:
        await timer_api.cancel(session, "lease", timer.key)
        await timer_api.schedule(session, "attempt", timer.key, utcnow(), {})

    async with transaction(sessions) as session:
        await timer_api.schedule(session, "other", "x", utcnow() + timedelta(days=1), {})
        await timer_api.schedule(session, "lease", "d1", utcnow() - timedelta(seconds=1), {})
    assert await TimerRunner(sessions, {"lease": on_lease}).fire_due() == 1
    async with transaction(sessions) as session:
        rows = {r["kind"]: r for r in (await session.execute(select(timers))).mappings()}
    assert set(rows) == {"other", "attempt"}
    assert rows["attempt"]["fired_at"] is None


async def test_rescheduling_moves_the_timer_and_cancel_removes_it(sessions: Sessions) -> None:
    later = utcnow() + timedelta(days=3)
    async with transaction(sessions) as session:
        await timer_api.schedule(session, "k", "a", utcnow(), {"v": 1})
        await timer_api.schedule(session, "k", "a", later, {"v": 2})
        await timer_api.schedule(session, "k", "b", utcnow(), {})
        await timer_api.cancel(session, "k", "b")
    async with transaction(sessions) as session:
        rows = (await session.execute(select(timers))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["payload"] == {"v": 2}
    assert abs((rows[0]["due_at"] - later).total_seconds()) < 1


async def test_the_inbox_forgets_what_its_group_applied_before_the_retention(
    sessions: Sessions,
) -> None:
    now = utcnow()
    rows = [
        ("g", "old", now - timedelta(days=9)),
        ("g", "recent", now - timedelta(days=6)),
        ("other", "old-of-another-group", now - timedelta(days=9)),
    ]
    async with transaction(sessions) as session:
        for group, event_id, applied_at in rows:
            values = {"topic": "t", "partition": 0, "offset": 1, "applied_at": applied_at}
            await session.execute(
                inbox.insert().values(consumer_group=group, event_id=event_id, **values)
            )
    runner = ConsumerRunner(
        group_id="g",
        topics=["t"],
        handlers={},
        sessions=sessions,
        kafka=KafkaConfig("127.0.0.1:1"),
        dlq_producer=None,  # type: ignore[arg-type]  (never used by the purge)
        inbox_retention=timedelta(days=8),
    )
    assert await runner.purge_inbox() == 1
    async with transaction(sessions) as session:
        left = (await session.execute(select(inbox.c.event_id))).scalars().all()
    assert sorted(left) == ["old-of-another-group", "recent"]


async def test_schedule_many_moves_and_rearms_and_cancel_many_removes(sessions: Sessions) -> None:
    now, later = utcnow(), utcnow() + timedelta(days=3)
    async with transaction(sessions) as session:
        await timer_api.schedule_many(session, "k", [("a", now, {"v": 1}), ("b", now, {})])
        await session.execute(
            timers.update().where(timers.c.key == "a").values(fired_at=now, attempts=2)
        )
        await timer_api.schedule_many(session, "k", [("a", later, {"v": 2}), ("c", now, {})])
        await timer_api.cancel_many(session, "k", ["b", "missing"])
        await timer_api.schedule_many(session, "k", [])
        await timer_api.cancel_many(session, "k", [])
    async with transaction(sessions) as session:
        rows = {r["key"]: r for r in (await session.execute(select(timers))).mappings()}
    assert sorted(rows) == ["a", "c"]
    assert rows["a"]["payload"] == {"v": 2} and rows["a"]["fired_at"] is None
    assert rows["a"]["attempts"] == 0
    assert abs((rows["a"]["due_at"] - later).total_seconds()) < 1


async def test_one_batched_handler_under_several_types_gets_one_run(sessions: Sessions) -> None:
    """Runs break where the handler changes: one ``Batched`` registered under two types
    takes consecutive events of both at once, in order; a per-event handler between them
    breaks the run. Two ``Batched`` of the same function are one handler."""
    from types import SimpleNamespace

    from servicekit.consumer import Batched, ConsumerRunner
    from servicekit.kafka import KafkaConfig

    runs: list[list[str]] = []
    singles: list[str] = []

    async def many(_: AsyncSession, events: list) -> None:  # type: ignore[type-arg]
        runs.append([e.type for e in events])

    async def one(_: AsyncSession, event: object) -> None:
        singles.append(event.type)  # type: ignore[attr-defined]

    shared = Batched(many)
    runner = ConsumerRunner(
        group_id="g",
        topics=["t"],
        handlers={"a.v1": shared, "b.v1": Batched(many), "c.v1": one},
        sessions=sessions,
        kafka=KafkaConfig(bootstrap_servers="127.0.0.1:1"),
        dlq_producer=None,  # type: ignore[arg-type]
    )
    kinds = ["a.v1", "b.v1", "a.v1", "c.v1", "b.v1"]
    items = [
        (
            SimpleNamespace(topic="t", partition=0, offset=n),
            new_event(type=kind, source="/s", tenant_id="t", topic="t", data={}),
        )
        for n, kind in enumerate(kinds)
    ]
    async with transaction(sessions) as session:
        await runner._apply(session, items)
    assert runs == [["a.v1", "b.v1", "a.v1"], ["b.v1"]] and singles == ["c.v1"]
