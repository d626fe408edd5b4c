"""Local days on SQLite and PostgreSQL, with a test clock: a Shanghai community and a New
York one (in a Shanghai tenant) whose daily caps, leaderboards and reports turn at their
own midnights, across New York's 23-hour 2026-03-08.

The zones reach rewards as the gateway's and onboarding's events (the consumer's
handlers); check-ins go through the credit path (``apply_rules_many``) with the
tenant's default rule: 2 points, at most 2 a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event as orm_event
from sqlalchemy import select

from rewards.leaderboards import api as boards_api
from rewards.orm import local_zones, score_window_state
from rewards.reports import api as reports_api
from rewards.rules import handlers as earning
from servicekit.db import transaction
from servicekit.events import Event

if TYPE_CHECKING:
    from conftest import Api, Ledger

TENANT = "t-acme"
CHECKED_IN = "quanzi.activities.checkin.recorded.v1"
SH, NY = "c-shanghai", "c-new-york"
BOARD = "/v1/rewards/leaderboard"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def check_in(member_id: str, community_id: str, at: datetime) -> Event:
    return Event(
        type=CHECKED_IN,
        source="/activities",
        tenant_id=TENANT,
        topic="activities.checkins",
        key=member_id,
        time=at,
        data={"tenant_id": TENANT, "member_id": member_id, "community_id": community_id},
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Sets "now" for the API's idea of today (leaderboards, reports)."""

    def set_to(at: datetime) -> None:
        for module in (boards_api, reports_api):
            monkeypatch.setattr(module, "utcnow", lambda: at)

    return set_to


async def zones(ledger: Ledger) -> None:
    await ledger.deliver(
        ledger.tenant_zone("Asia/Shanghai"),
        ledger.community_zone(SH, "Asia/Shanghai"),
        ledger.community_zone(NY, "America/New_York"),
    )


async def credit(ledger: Ledger, *events: Event) -> None:
    """Each event in its own transaction, as the consumer applies them one by one."""
    for event in events:
        async with transaction(ledger.sessions) as session:
            await earning.apply_rules_many(session, [event])


async def lifetime(ledger: Ledger, member_id: str) -> int:
    found = await ledger.balances(member_id)
    return found["lifetime"] if found else 0


async def test_daily_caps_reset_at_each_communitys_midnight(ledger: Ledger) -> None:
    await zones(ledger)
    # Shanghai: 23:50 and 00:10 local are two days, though both are 2026-03-08 in UTC.
    await credit(ledger, check_in("sh", SH, utc(2026, 3, 8, 15, 50)))
    await credit(ledger, check_in("sh", SH, utc(2026, 3, 8, 15, 55)))  # capped: same day
    assert await lifetime(ledger, "sh") == 2
    await credit(ledger, check_in("sh", SH, utc(2026, 3, 8, 16, 10)))
    assert await lifetime(ledger, "sh") == 4
    # New York, over its 23-hour 03-08 (EST until 02:00, then EDT).
    steps = [
        (utc(2026, 3, 8, 4, 0), 2),  # 03-07 23:00 EST
        (utc(2026, 3, 8, 4, 59), 2),  # 03-07 23:59 EST: capped
        (utc(2026, 3, 8, 5, 30), 4),  # 03-08 00:30 EST: a new day, same UTC day
        (utc(2026, 3, 9, 3, 30), 4),  # 03-08 23:30 EDT: still the 23-hour day, capped
        (utc(2026, 3, 9, 3, 59, 59), 4),  # its last second
        (utc(2026, 3, 9, 4, 0), 6),  # 03-09 00:00 EDT: a new day
    ]
    for at, expected in steps:
        await credit(ledger, check_in("ny", NY, at))
        assert await lifetime(ledger, "ny") == expected, at
    # The 25-hour 2026-11-01: 00:30 EDT and 23:30 EST are one day; 00:00 EST the next.
    for at, expected in (
        (utc(2026, 11, 1, 4, 30), 8),
        (utc(2026, 11, 2, 4, 30), 8),
        (utc(2026, 11, 2, 5, 0), 10),
    ):
        await credit(ledger, check_in("ny", NY, at))
        assert await lifetime(ledger, "ny") == expected, at
    await ledger.check_invariants()


async def test_a_batch_caps_by_local_days_too(ledger: Ledger) -> None:
    """The batched path: one member in both communities in one transaction."""
    await zones(ledger)
    batch = [
        check_in("m", NY, utc(2026, 3, 8, 4, 0)),  # NY 03-07
        check_in("m", NY, utc(2026, 3, 8, 5, 30)),  # NY 03-08: not capped by the one before
        check_in("m", SH, utc(2026, 3, 8, 15, 0)),  # SH 03-08 23:00: the cap is the rule's,
        check_in("m", SH, utc(2026, 3, 8, 16, 30)),  # per member; SH 03-09: a new day
    ]
    async with transaction(ledger.sessions) as session:
        await earning.apply_rules_many(session, batch)
    # NY 03-07: 2; NY 03-08: 2; SH 03-08 counts what 03-08 already holds in Shanghai's
    # day (05:30 UTC is 13:30 there): capped; SH 03-09: 2.
    assert await lifetime(ledger, "m") == 6


async def board(api: Api, **params: Any) -> dict[str, Any]:
    answer = await api.client.get(BOARD, params=params, headers=api.operator("owner"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def points(found: dict[str, Any]) -> dict[str, int]:
    return {row["member_id"]: row["points"] for row in found["top"]}


async def test_leaderboards_turn_at_their_own_midnight(
    api: Api, ledger: Ledger, clock: Callable[[datetime], None]
) -> None:
    await zones(ledger)
    await credit(
        ledger,
        check_in("ny", NY, utc(2026, 3, 8, 5, 30)),  # NY 03-08 00:30 EST
        check_in("sh", SH, utc(2026, 3, 8, 15, 50)),  # SH 03-08 23:50
        check_in("sh2", SH, utc(2026, 3, 8, 16, 10)),  # SH 03-09 00:10
    )
    one_day = {"window": "custom"}

    async def day_board(community: str | None, day: date) -> dict[str, int]:
        scope = {"community_id": community} if community else {}
        found = await board(api, **one_day, **scope, **{"from": str(day), "to": str(day)})
        return points(found)

    # Each board's days are its own: New York's 03-08 holds its 00:30 check-in, Shanghai's
    # 03-08 and 03-09 split at its midnight (16:00 UTC); the tenant's are Shanghai's.
    assert await day_board(NY, date(2026, 3, 8)) == {"ny": 2}
    assert await day_board(NY, date(2026, 3, 7)) == {}
    assert await day_board(SH, date(2026, 3, 8)) == {"sh": 2}
    assert await day_board(SH, date(2026, 3, 9)) == {"sh2": 2}
    assert await day_board(None, date(2026, 3, 8)) == {"ny": 2, "sh": 2}
    assert await day_board(None, date(2026, 3, 9)) == {"sh2": 2}

    # "Today" on each board: one second before and at New York's midnight ending the
    # 23-hour 03-08 (04:00 UTC on 03-09), when Shanghai is at noon on 03-09.
    for now, ny_today in (
        (utc(2026, 3, 9, 3, 59, 59), "2026-03-08"),
        (utc(2026, 3, 9, 4), "2026-03-09"),
    ):
        clock(now)
        ny_week = await board(api, window="7d", community_id=NY)
        sh_week = await board(api, window="7d", community_id=SH)
        tenant_week = await board(api, window="7d")
        assert ny_week["last_day"] == ny_today, now
        assert sh_week["last_day"] == tenant_week["last_day"] == "2026-03-09", now
        assert points(ny_week) == {"ny": 2} and points(sh_week) == {"sh": 2, "sh2": 2}
        assert points(tenant_week) == {"ny": 2, "sh": 2, "sh2": 2}
    # Seven days later New York's 03-08 has left its week; Shanghai's 03-08 also, its
    # 03-09 not yet.
    clock(utc(2026, 3, 15, 4, 30))  # NY 03-15 00:30 EDT, SH 03-15 12:30
    assert points(await board(api, window="7d", community_id=NY)) == {}
    assert points(await board(api, window="7d", community_id=SH)) == {"sh2": 2}


async def test_rolling_windows_are_kept_per_board_each_for_its_today(
    api: Api, ledger: Ledger, clock: Callable[[datetime], None]
) -> None:
    await zones(ledger)
    await credit(ledger, check_in("ny", NY, utc(2026, 3, 8, 5, 30)))
    clock(utc(2026, 3, 9, 3))  # NY 03-08 23:00, SH 03-09 11:00
    for community in (NY, SH, None):  # the first reads sum the days, then rebuild
        await board(api, window="7d", **({"community_id": community} if community else {}))
    async with ledger.engine.connect() as connection:
        state = score_window_state.c
        rows = await connection.execute(select(state.scope, state.span, state.as_of))
        kept = {(scope, span): as_of for scope, span, as_of in rows}
    assert kept[(NY, 7)] == kept[(NY, 30)] == date(2026, 3, 8)
    assert kept[("", 7)] == kept[("", 30)] == date(2026, 3, 9)
    # Kept rows answer now, and later credits are added to them.
    await credit(ledger, check_in("ny", NY, utc(2026, 3, 9, 3, 30)))  # NY 03-08: capped
    await credit(ledger, check_in("ny2", NY, utc(2026, 3, 9, 3, 40)))
    assert points(await board(api, window="7d", community_id=NY)) == {"ny": 2, "ny2": 2}
    assert points(await board(api, window="7d")) == {"ny": 2, "ny2": 2}


async def test_reports_count_the_communitys_days(
    api: Api, ledger: Ledger, clock: Callable[[datetime], None]
) -> None:
    await zones(ledger)
    await credit(
        ledger,
        check_in("a", NY, utc(2026, 3, 8, 4, 0)),  # NY 03-07
        check_in("b", NY, utc(2026, 3, 8, 5, 30)),  # NY 03-08 (EST)
        check_in("c", NY, utc(2026, 3, 9, 3, 30)),  # NY 03-08 (EDT)
        check_in("d", NY, utc(2026, 3, 9, 4, 0)),  # NY 03-09
        check_in("e", SH, utc(2026, 3, 8, 15, 50)),  # SH 03-08
        check_in("f", SH, utc(2026, 3, 8, 16, 10)),  # SH 03-09
    )
    clock(utc(2026, 3, 9, 12))

    async def by_day(**params: str) -> dict[str, int]:
        answer = await api.client.get(
            "/v1/rewards/reports/points",
            params={"group_by": "day", **params},
            headers=api.operator("owner"),
        )
        assert answer.status_code == 200, answer.text
        return {group["key"]: group["earned"] for group in answer.json()["groups"]}

    week = {"from": "2026-03-02", "to": "2026-03-09"}
    assert await by_day(community_id=NY, **week) == {
        "2026-03-07": 2,
        "2026-03-08": 4,
        "2026-03-09": 2,
    }
    assert await by_day(community_id=SH, **week) == {"2026-03-08": 2, "2026-03-09": 2}
    # The tenant-wide report counts Shanghai's days (the tenant's zone).
    assert await by_day(**week) == {"2026-03-08": 6, "2026-03-09": 6}
    # One New York day is its 23 hours exactly.
    one = await by_day(community_id=NY, **{"from": "2026-03-08", "to": "2026-03-08"})
    assert one == {"2026-03-08": 4}
    # By default the 30 days ending the community's today (NY's 03-09 at 12:00 UTC).
    answer = await api.client.get(
        "/v1/rewards/reports/points",
        params={"community_id": NY},
        headers=api.operator("owner"),
    )
    assert answer.json()["to"] == "2026-03-09"


async def test_the_newest_zone_wins_and_unknown_zones_are_ignored(ledger: Ledger) -> None:
    t1, t2 = utc(2026, 3, 1), utc(2026, 3, 2)
    await ledger.deliver(
        ledger.community_zone(NY, "America/Chicago", at=t2, created=False),
        ledger.community_zone(NY, "America/New_York", at=t1),  # older, applied late
        ledger.community_zone(SH, "Mars/Olympus"),  # not a zone: nothing changes
        ledger.tenant_zone("Asia/Shanghai", at=t1),
        ledger.tenant_zone("Europe/Paris", at=t2, created=False),
    )
    async with ledger.engine.connect() as connection:
        rows = await connection.execute(select(local_zones.c.scope, local_zones.c.zone))
        assert dict(rows.all()) == {NY: "America/Chicago", "": "Europe/Paris"}
    # The change applies to the next credit at once in this process (its cache forgot):
    # SH has no known zone, so it counts Paris days, where these are two days (in
    # Shanghai or in UTC they would be one, and the second capped).
    await credit(ledger, check_in("m", SH, utc(2026, 3, 8, 22, 30)))  # Paris 03-08 23:30
    await credit(ledger, check_in("m", SH, utc(2026, 3, 8, 23, 30)))  # Paris 03-09 00:30
    assert await lifetime(ledger, "m") == 4


async def test_the_credit_path_reads_the_zones_once_per_process_not_per_credit(
    ledger: Ledger,
) -> None:
    await zones(ledger)
    await credit(ledger, check_in("a", NY, utc(2026, 3, 8, 5)))  # reads and caches them
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    orm_event.listen(ledger.engine.sync_engine, "before_cursor_execute", remember)
    try:
        await credit(ledger, check_in("b", NY, utc(2026, 3, 8, 6)))
        async with transaction(ledger.sessions) as session:
            await earning.apply_rules_many(
                session, [check_in(f"c{n}", SH, utc(2026, 3, 8, 7)) for n in range(5)]
            )
    finally:
        orm_event.remove(ledger.engine.sync_engine, "before_cursor_execute", remember)
    assert seen, "the credits ran statements"
    assert not [s for s in seen if "local_zones" in s]
    assert await lifetime(ledger, "b") == 2 and await lifetime(ledger, "c4") == 2
