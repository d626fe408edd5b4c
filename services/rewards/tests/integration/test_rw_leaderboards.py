"""Leaderboards on SQLite and PostgreSQL: windows, scopes, deterministic ties, my rank,
reversals, tenants apart; the SQL agrees with a plain recomputation from the entries."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from rewards.orm import entries, lots, score_window_state, score_windows, wallets
from servicekit.migrations import upgrade
from servicekit.service_cli import alembic_ini
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Api, Ledger

BOARD = "/v1/rewards/leaderboard"


async def board(api: Api, who: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = await api.client.get(BOARD, params=params, headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def names(found: dict[str, Any]) -> list[tuple[str, int]]:
    return [(row["member_id"], row["points"]) for row in found["top"]]


async def test_windows_ties_and_my_rank(api: Api, ledger: Ledger) -> None:
    await ledger.deliver(ledger.tenant_zone("UTC"))  # days as the dates of utcnow()
    now = utcnow().replace(hour=12)
    day = timedelta(days=1)
    await ledger.deliver(
        ledger.activated("m-1", "ancient", at=now - 40 * day, window_days=None),
        ledger.activated("m-2", "old", at=now - 20 * day, window_days=None),
        ledger.activated("m-3", "late", at=now - 3 * day + timedelta(hours=1), window_days=None),
        ledger.activated("m-4", "early", at=now - 3 * day, window_days=None),
        ledger.activated("m-5", "zed", at=now - 3 * day, window_days=None),
        ledger.activated("m-6", "guest", inviter_id="host", at=now - 2 * day, community_id="c-2"),
    )
    member = api.member("early")
    week = await board(api, member, window="7d")
    # host 20 (referral); then four at 10: who reached it first, then the member id.
    assert names(week) == [("host", 20), ("early", 10), ("zed", 10), ("late", 10), ("guest", 10)]
    assert [row["rank"] for row in week["top"]] == [1, 2, 3, 4, 5]
    assert week["me"] == {**week["top"][1], "rank": 2}
    assert (week["first_day"], week["last_day"]) == (
        str(now.date() - 6 * day),
        str(now.date()),
    )
    month = await board(api, member, window="30d")
    assert {m for m, _ in names(month)} == {"host", "early", "zed", "late", "guest", "old"}
    forever = await board(api, member, window="all", limit=1)
    assert names(forever) == [("host", 20)]
    assert forever["me"]["rank"] == 4  # host, then ancient (40 days ago) and old came first
    assert forever["me"]["member_id"] == "early"
    c2 = await board(api, api.member("nobody"), window="all", community_id="c-2")
    assert names(c2) == [("host", 20), ("guest", 10)]
    assert c2["me"] == {"rank": None, "member_id": "nobody", "points": 0, "reached_at": None}
    operator = await board(api, api.operator("content_officer"), window="7d")
    assert operator["me"] is None and len(operator["top"]) == 5
    first, last = now.date() - 40 * day, now.date() - 20 * day
    custom = await board(api, member, window="custom", **{"from": str(first), "to": str(last)})
    assert names(custom) == [("ancient", 10), ("old", 10)] and custom["me"]["rank"] is None


async def test_a_reversal_leaves_the_board_and_spending_does_not(api: Api, ledger: Ledger) -> None:
    await ledger.deliver(
        ledger.activated("m-1", "a", inviter_id="host"),
        ledger.activated("m-2", "b", inviter_id="host", window_days=None),
    )
    await api.client.post(
        "/v1/rewards/adjustments",
        json={"member_id": "b", "points": -10, "reason": "spent at the desk"},
        headers=api.operator("owner", **{"Idempotency-Key": "spend"}),
    )
    await ledger.deliver(ledger.refunded("m-1", "a"))
    for window in ("7d", "all"):
        found = await board(api, api.operator("owner"), window=window)
        assert names(found) == [("host", 20), ("b", 10)], window
    c1 = await board(api, api.member("a"), window="all", community_id="c-1")
    assert c1["me"]["rank"] is None


async def test_tenants_and_bad_periods(api: Api, ledger: Ledger) -> None:
    await ledger.deliver(ledger.activated("m-1", "a", window_days=None))
    theirs = await board(api, api.member("a", tenant_id="t-other"), window="all")
    assert theirs["top"] == [] and theirs["me"]["rank"] is None
    member = api.member("a")
    for params in (
        {"window": "week"},
        {"window": "custom"},
        {"window": "custom", "from": "2026-02-01", "to": "2026-01-01"},
        {"window": "custom", "from": "2024-01-01", "to": "2026-01-01"},
        {"window": "7d", "from": "2026-01-01", "to": "2026-01-02"},
        {"window": "custom", "from": "2026-13-01", "to": "2026-12-31"},
        {"limit": 0},
        {"limit": 101},
        {"community_id": ""},
    ):
        answer = await api.client.get(BOARD, params=params, headers=member)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    for params in ({"community_id": "c\x00"}, {"window": "week\x1b"}):
        answer = await api.client.get(BOARD, params=params, headers=member)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    refused = await api.client.get(BOARD, headers=api.operator("nobody-role"))
    assert refused.status_code == 403


async def test_boards_agree_with_the_entries(api: Api, ledger: Ledger) -> None:
    """Random earnings, refunds and adjustments over 40 days in two communities: every
    board and every member's rank match a recomputation from the entries, whether a
    board is summed from the day rows, read from rows kept since a rebuild, or kept
    through later writes (new credits, late events, refunds of old lots)."""
    rng = random.Random(5)
    await ledger.deliver(ledger.tenant_zone("UTC"))  # days as the recomputation's
    now = utcnow()
    members = [f"m{n:02d}" for n in range(24)]

    def some(first: int, count: int) -> list[Any]:
        events = []
        for n in range(first, first + count):
            at = now - timedelta(days=rng.randrange(40), hours=rng.randrange(24))
            events.append(
                ledger.activated(
                    f"ms-{n}",
                    rng.choice(members),
                    inviter_id=rng.choice([None, *members[:4]]),
                    at=min(at.replace(minute=0, second=0, microsecond=0), now),  # ties happen
                    window_days=rng.choice([None, 3]),
                    community_id=rng.choice(["c-1", "c-2"]),
                )
            )
        return events

    await ledger.deliver(*some(0, 40))
    await ledger.deliver(*(ledger.refunded(f"ms-{n}", "x") for n in rng.sample(range(40), 6)))
    await _agree(api, ledger, now)  # summed, then rebuilt in the background
    assert await _states(ledger) == {7: now.date(), 30: now.date()}
    await _agree(api, ledger, now)  # from the kept windows
    await ledger.deliver_batch(*some(40, 30))
    await ledger.deliver(*(ledger.refunded(f"ms-{n}", "x") for n in rng.sample(range(70), 8)))
    await _agree(api, ledger, now)  # kept through the writes


async def test_windows_of_yesterday_are_not_served(api: Api, ledger: Ledger) -> None:
    await ledger.deliver(ledger.tenant_zone("UTC"))
    await ledger.deliver(ledger.activated("m-1", "a", window_days=None))
    operator = api.operator("owner")
    await board(api, operator, window="7d")  # builds today's windows
    yesterday = utcnow().date() - timedelta(days=1)
    async with ledger.engine.begin() as connection:
        await connection.execute(score_window_state.update().values(as_of=yesterday))
        await connection.execute(score_windows.update().values(points=1000))  # wrong on purpose
    assert names(await board(api, operator, window="7d")) == [("a", 10)]  # summed instead
    assert names(await board(api, operator, window="7d")) == [("a", 10)]  # rebuilt meanwhile
    assert await _states(ledger) == {7: utcnow().date(), 30: utcnow().date()}


async def _agree(api: Api, ledger: Ledger, now: datetime) -> None:
    expected = await _recompute(ledger)
    operator = api.operator("owner")
    for scope in ("", "c-1", "c-2"):
        for window in ("7d", "30d", "all"):
            params = {"window": window, "limit": 100, **({"community_id": scope} if scope else {})}
            found = await board(api, operator, **params)
            want = _board(expected[scope], _first_day(window, now.date()))
            assert len(want) >= (10 if window == "all" else 1), (scope, window)  # not vacuous
            assert names(found) == want, (scope, window)
            ranked = [member for member, _ in want]
            for member in {*ranked[:3], *ranked[-3:]}:  # found in the top, or counted
                mine = await board(api, api.member(member), **{**params, "limit": 1})
                assert mine["me"]["rank"] == ranked.index(member) + 1, (scope, window, member)


async def _states(ledger: Ledger, scope: str = "") -> dict[int, date | None]:
    """span → the day a board's windows are for (each board has its own)."""
    state = score_window_state.c
    async with ledger.engine.connect() as connection:
        rows = await connection.execute(select(state.span, state.as_of).where(state.scope == scope))
        return {int(span): as_of for span, as_of in rows}


async def test_the_migration_backfills_what_the_ledger_keeps(
    api: Api, ledger: Ledger, database_url: str
) -> None:
    await ledger.deliver(
        ledger.activated("m-1", "a", inviter_id="host", window_days=None),
        ledger.activated("m-2", "b", inviter_id="host", community_id="c-2"),
        ledger.refunded("m-2", "b"),
    )
    operator = api.operator("owner")
    before = [await board(api, operator, window=w) for w in ("7d", "all")]
    config = Config(str(alembic_ini("rewards")))
    config.set_main_option("script_location", str(alembic_ini("rewards").parent / "migrations"))
    config.attributes["database_url"] = database_url
    await asyncio.to_thread(command.downgrade, config, "0003")
    await asyncio.to_thread(upgrade, alembic_ini("rewards"), database_url)
    after = [await board(api, operator, window=w) for w in ("7d", "all")]
    assert after == before and names(before[1]) == [("host", 20), ("a", 10)]


# ------------------------------------------------------------------ reference


Scores = dict[str, dict[str, list[tuple[date, int, datetime]]]]  # scope → member → rows


async def _recompute(ledger: Ledger) -> Scores:
    """scope → member → (day earned, lifetime delta, at) from the entries themselves."""
    query = (
        select(
            wallets.c.member_id,
            entries.c.community_id,
            entries.c.lifetime_delta,
            entries.c.created_at,
            lots.c.earned_at,
        )
        .select_from(entries.join(wallets, wallets.c.id == entries.c.wallet_id))
        .outerjoin(lots, lots.c.id == entries.c.lot_id)
        .where(entries.c.lifetime_delta != 0)
    )
    async with ledger.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    found: Scores = defaultdict(lambda: defaultdict(list))
    for member, community, delta, at, earned in rows:
        day = (earned or at).astimezone(UTC).date()
        for scope in {"", community or ""}:
            found[scope][member].append((day, delta, at))
    return found


def _first_day(window: str, today: date) -> date:
    return {"7d": today - timedelta(days=6), "30d": today - timedelta(days=29)}.get(
        window, date.min
    )


def _board(by_member: dict[str, list[tuple[date, int, datetime]]], first: date) -> list[Any]:
    standings = []
    for member, rows in by_member.items():
        inside = [(delta, at) for day, delta, at in rows if day >= first]
        points = sum(delta for delta, _ in inside)
        if points > 0:
            reached = max(at for delta, at in inside if delta > 0)
            standings.append((-points, reached, member))
    return [(member, -points) for points, _, member in sorted(standings)]
