"""Figures on both backends: shuffled batches with redeliveries give the domain's figures
(which property tests hold to a brute-force count); a zone that arrives after the facts
moves them to their local days; cohorts, channels and the summary through the API; CSV."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from insights.figures import domain
from insights.figures.events import READERS, facts_of
from servicekit.events import Event

from .conftest import OTHER, T0, Api, checkin, community, credited, joined, membership, post

DAY = timedelta(days=1)


def journey() -> list[Event]:
    """Two channels into c-1 (Shanghai): some pay, one refunds, one leaves; posts and
    check-ins over two weeks; points earned and spent."""
    events = []
    for i in range(6):
        code, channel = ("POSTER-A", "poster") if i % 2 else ("PARTNER-B", "partner")
        at = T0 + timedelta(hours=3 * i)
        events.append(joined(f"m{i}", at=at, paid=i < 3, code=code, channel=channel))
    events.append(joined("m4", at=T0 + 2 * DAY, paid=True, upgrade=True))  # a trial pays
    events.append(membership("refunded", "m0", at=T0 + DAY))
    events.append(membership("left", "m5", at=T0 + 3 * DAY))
    events.append(membership("renewed", "m1", at=T0 + 10 * DAY))
    for n in range(14):
        who = f"m{n % 4}"
        events.append(post(f"p{n}", who, at=T0 + n * DAY + timedelta(hours=1)))
        events.append(checkin(f"k{n}", who, at=T0 + n * DAY + timedelta(hours=15, minutes=59)))
    events.append(credited("e1", "m1", 20, at=T0 + DAY))
    events.append(credited("e2", "m1", -5, at=T0 + 2 * DAY))
    return events


def expected(events: list[Event], first: date, last: date, tz: str) -> list[dict[str, Any]]:
    facts = domain.Facts()
    for event in events:
        if event.type not in READERS:
            continue  # communities, roles
        for fact in facts_of(event.type, event.data):
            facts.add(fact)
    members, engaged, points = domain.rows_of(facts, "c-1", ZoneInfo(tz))
    return [
        {**vars(f), "activity_rate": f.activity_rate}
        for f in domain.series(members, engaged, points, first, last)
    ]


def days_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**day, "day": date.fromisoformat(day["day"])} for day in answer["days"]]


async def deliver_shuffled(api: Api, events: list[Event], seed: int) -> None:
    rnd = random.Random(seed)
    replayed = events + rnd.sample(events, k=len(events) // 2)  # redeliveries
    rnd.shuffle(replayed)
    for start in range(0, len(replayed), 7):
        await api.deliver_batch(*replayed[start : start + 7])


async def test_shuffled_batches_with_redeliveries_give_the_domains_figures(api: Api) -> None:
    await api.deliver(community("c-1"))
    events = journey()
    await deliver_shuffled(api, events, seed=7)
    api.at(T0 + 20 * DAY)
    first, last = date(2026, 12, 1), date(2026, 12, 20)
    answer = await api.get("/series", community_id="c-1", **{"from": first, "to": last})
    assert days_of(answer) == expected(events, first, last, "Asia/Shanghai")
    by_day = {d["day"]: d for d in days_of(answer)}
    assert by_day[date(2026, 12, 1)]["joined"] == 6
    assert by_day[date(2026, 12, 1)]["paid"] == 3
    assert by_day[date(2026, 12, 3)]["paid"] == 1  # the trial that paid
    # a check-in at 23:59 local counts on its own day, not the next
    assert all(d["checkins"] == 1 for d in answer["days"][:14])
    # a replay of everything changes nothing
    await deliver_shuffled(api, events, seed=8)
    again = await api.get("/series", community_id="c-1", **{"from": first, "to": last})
    assert again == answer


async def test_channels_cohorts_and_summary(api: Api) -> None:
    await api.deliver(community("c-1"))
    await deliver_shuffled(api, journey(), seed=3)
    api.at(T0 + 13 * DAY)
    funnel = await api.get("/channels", community_id="c-1")
    rows = {(c["code"], c["channel"]): c for c in funnel["channels"]}
    partner, poster = rows[("PARTNER-B", "partner")], rows[("POSTER-A", "poster")]
    # m0, m2, m4 by the partner (m0, m2 paid; m4 paid later); m1, m3, m5 by the poster (m1)
    assert (partner["joined"], partner["paid"], partner["refunded"]) == (3, 3, 1)
    assert (poster["joined"], poster["paid"], poster["renewed"]) == (3, 1, 1)
    assert poster["paid_rate"] == round(1 / 3, 4)

    cohorts = await api.get("/cohorts", community_id="c-1")
    [cohort] = cohorts["cohorts"]
    assert cohort["week"] == "2026-11-30" and cohort["size"] == 6
    week1 = cohort["retention"][0]
    # week 1 (7..13 Dec): m0..m3 post and check in
    assert week1 == {"week": 1, "active": 4, "share": round(4 / 6, 4)}
    assert cohort["retention"][1]["active"] is None  # week 2 has not ended

    summary = await api.get("/summary", community_id="c-1")
    [one] = summary["communities"]
    assert one["today"] == "2026-12-14"
    assert one["members"] == 4  # m0 refunded, m5 left
    assert (one["dau"], one["wau"], one["mau"]) == (1, 4, 4)
    assert one["activity_rate"] == 0.25 and summary["members"] == 4

    export = await api.client.get(
        "/v1/insights/channels",
        params={"community_id": "c-1", "format": "csv"},
        headers=api.operator(),
    )
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert table[0][:4] == ["source", "code", "channel", "joined"]
    assert len(table) == 3


async def test_a_zone_that_arrives_late_moves_the_facts_to_their_local_days(api: Api) -> None:
    events = [
        joined("m1", "c-1", at=T0 + timedelta(hours=2)),  # 1 Dec 21:00 the evening before in NY
        post("p1", "m1", "c-1", at=T0 + timedelta(hours=3)),
        checkin("k1", "m1", "c-1", at=T0 + timedelta(hours=6)),
    ]
    await api.deliver(*events)  # counted in Shanghai, the default, for now
    first, last = date(2026, 11, 29), date(2026, 12, 2)
    before = await api.get("/series", community_id="c-1", **{"from": first, "to": last})
    assert days_of(before) == expected(events, first, last, "Asia/Shanghai")
    await api.deliver(community("c-1", "America/New_York"))
    after = await api.get("/series", community_id="c-1", **{"from": first, "to": last})
    assert days_of(after) == expected(events, first, last, "America/New_York")
    assert [d["day"] for d in after["days"] if d["posts"]] == ["2026-11-30"]
    # an older announcement never moves them back
    await api.deliver(community("c-1", "Asia/Shanghai", updated_at=T0 - DAY))
    assert await api.get("/series", community_id="c-1", **{"from": first, "to": last}) == after


async def test_every_tenant_sees_only_its_own_figures(api: Api) -> None:
    await api.deliver(community("c-1"), community("c-x", tenant_id=OTHER))
    await api.deliver(
        joined("m1", "c-x", tenant_id=OTHER), post("p1", "m1", "c-x", tenant_id=OTHER)
    )
    ours = await api.get("/summary")
    assert [c["community_id"] for c in ours["communities"]] == ["c-1"]
    answer = await api.client.get(
        "/v1/insights/series", params={"community_id": "c-x"}, headers=api.operator()
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_periods_are_checked(api: Api) -> None:
    await api.deliver(community("c-1"))
    for params in (
        {"from": "2026-12-02", "to": "2026-12-01"},
        {"from": "0001-01-01"},
        {"from": "2025-01-01", "to": "2026-12-01"},
    ):
        answer = await api.client.get("/v1/insights/series", params=params, headers=api.operator())
        assert answer.status_code == 422, params
        assert answer.json()["type"].endswith("/invalid-period")
