"""Campaign reviews (复盘) through the API on both backends, with exact counts: a challenge
beside the previous one of its community, a quiz, a meetup with a waitlist and a venue
check-in, a 任务宝 with a refund and its channel; CSV by query and by Accept; who may
read; unknown kinds and ids."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from .conftest import AC, OTHER, T0
from .test_ac_meetups import cancel, mine, new_meetup, register, url
from .test_ac_quizzes import RIGHT, bank, quiz, start, submit
from .test_ac_referrals import WINDOW, deliver, invited, new_campaign, refunded, runner
from .test_ac_tenancy import tenant_a

BEFORE = T0 - timedelta(days=1)  # seated the day before: in the audience at the start


async def review(api: Any, kind: str, activity_id: str, query: str = "", **headers: str) -> Any:
    answer = await api.client.get(
        f"{AC}/reviews/{kind}/{activity_id}{query}", headers={**api.operator(), **headers}
    )
    assert answer.status_code == 200, answer.text
    return answer


def counts(stages: list[dict[str, Any]]) -> dict[str, int]:
    return {s["stage"]: s["count"] for s in stages}


async def test_a_challenge_s_funnel_beside_the_previous_one_of_its_community(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3", "m-4", "m-6", "m-7"):
        await api.seat(member, at=BEFORE)
    # The challenge starts at 2026-12-01 00:00 in Shanghai (30 Nov 16:00 UTC).
    await api.deliver(
        api.membership("left", "m-7", at=T0 - timedelta(hours=12)),  # gone before the start
        api.membership("left", "m-6", at=T0 + timedelta(hours=1)),  # left after it: reached
        api.membership(  # renewed after the start: reached
            "renewed",
            "m-4",
            at=T0 + timedelta(hours=1),
            payment_id="p-4",
            term_ends_at=(T0 + timedelta(days=365)).isoformat(),
        ),
        api.membership("activated", "m-5", at=T0),  # joined after the start
    )
    first = await api.challenge(required_days=3)
    assert (await api.check_in(first["id"], "m-1")).status_code == 201
    api.at(T0 + timedelta(seconds=30))
    await api.challenge(community_id="c-2")  # another community: not its previous one
    api.at(T0 + timedelta(minutes=1))
    second = await api.challenge(required_days=2)
    for member in ("m-1", "m-2", "m-5"):
        assert (await api.check_in(second["id"], member)).status_code == 201
    api.at(T0 + timedelta(days=1))
    assert (await api.check_in(second["id"], "m-1")).status_code == 201  # completed (2 days)

    found = (await review(api, "challenge", second["id"])).json()
    assert found["kind"] == "challenge" and found["activity"]["id"] == second["id"]
    assert found["activity"]["reached_at"].startswith("2026-11-30T16:00:00")
    # Reached: m-1..m-4, m-6 at the start, and m-5, who joined after it but took part.
    assert found["activity"]["stages"] == [
        {"stage": "reached", "count": 6, "of_previous": 1.0, "of_reached": 1.0},
        {"stage": "took_part", "count": 3, "of_previous": 0.5, "of_reached": 0.5},
        {"stage": "completed", "count": 1, "of_previous": 0.3333, "of_reached": 0.1667},
    ]
    assert found["not_recorded"] == ["registered", "rewarded"]
    assert found["channels"] is None
    assert found["activity"]["points"] == {"awarded": None, "charged": None}
    assert [c["community_id"] for c in found["communities"]] == ["c-1"]
    assert found["communities"][0]["stages"] == found["activity"]["stages"]
    assert found["previous"]["id"] == first["id"]
    assert counts(found["previous"]["stages"]) == {"reached": 5, "took_part": 1, "completed": 0}
    assert found["changes"] == [
        {"stage": "reached", "count": 1, "of_reached": 0.0},
        {"stage": "took_part", "count": 2, "of_reached": 0.3},
        {"stage": "completed", "count": 1, "of_reached": 0.1667},
    ]
    assert found["points_change"] == {"awarded": None, "charged": None}
    oldest = (await review(api, "challenge", first["id"])).json()
    assert oldest["previous"] is None and oldest["changes"] is None

    # CSV: by the query, or by the Accept header; the same rows.
    by_query = await review(api, "challenge", second["id"], "?format=csv")
    by_accept = await review(api, "challenge", second["id"], Accept="text/csv")
    assert by_query.headers["content-type"].startswith("text/csv")
    assert by_query.text == by_accept.text
    rows = list(csv.reader(io.StringIO(by_query.text.removeprefix("\ufeff"))))
    assert rows[0] == [
        "community_id",
        "stage",
        "count",
        "of_previous",
        "of_reached",
        "previous_count",
        "change",
    ]
    assert rows[1:4] == [
        ["", "reached", "6", "1.0", "1.0", "5", "1"],
        ["", "took_part", "3", "0.5", "0.5", "1", "2"],
        ["", "completed", "1", "0.3333", "0.1667", "0", "1"],
    ]
    assert rows[4] == ["c-1", "reached", "6", "1.0", "1.0", "", ""]
    json_anyway = await review(api, "challenge", second["id"], "?format=json", Accept="text/csv")
    assert json_anyway.json()["kind"] == "challenge"


async def test_who_may_read_a_review_and_what_is_not_found(api: Any) -> None:
    await api.seat("m-1", at=BEFORE)
    challenge = await api.challenge()
    path = f"{AC}/reviews/challenge/{challenge['id']}"
    for headers in (api.member("m-1"), api.operator("community_manager")):
        assert (await api.client.get(path, headers=headers)).status_code == 403
    reader = await api.client.get(path, headers=api.operator("content_officer"))
    assert reader.status_code == 200
    for kind, activity_id in (("quiz", challenge["id"]), ("challenge", "nope")):
        missing = await api.client.get(f"{AC}/reviews/{kind}/{activity_id}", headers=api.operator())
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
    unknown = await api.client.get(f"{AC}/reviews/raffle/{challenge['id']}", headers=api.operator())
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")


async def test_a_quiz_s_funnel_started_and_submitted(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member, at=BEFORE)
    ids = await bank(api)
    found = await quiz(api, ids)
    attempt = (await start(api, found["id"], "m-1")).json()
    answered = await submit(api, found["id"], attempt["id"], dict(zip(ids, RIGHT, strict=True)))
    assert answered.status_code == 200, answered.text
    assert (await start(api, found["id"], "m-2")).status_code == 201  # never submitted
    body = (await review(api, "quiz", found["id"])).json()
    assert counts(body["activity"]["stages"]) == {"reached": 3, "took_part": 2, "completed": 1}
    assert body["not_recorded"] == ["registered", "rewarded"]
    assert body["previous"] is None


async def test_a_meetup_s_funnel_registered_seated_checked_in_and_its_points(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3", "m-4", "m-5"):
        await api.seat(member, at=BEFORE)
    meetup = await new_meetup(api, capacity=2, cost_points=10)
    for member in ("m-1", "m-2", "m-3"):
        assert (await register(api, meetup, member)).status_code == 201
    assert (await cancel(api, meetup, "m-2")).status_code == 200  # m-3 is offered the seat
    took = await api.client.post(url(meetup, "/registration/confirm"), headers=api.member("m-3"))
    assert took.status_code == 200, took.text
    code = (await mine(api, meetup, "m-1"))["checkin_code"]
    api.at(T0 + timedelta(days=6, minutes=5))
    scan = await api.client.post(
        url(meetup, "/checkins"), json={"code": code}, headers=api.operator()
    )
    assert scan.status_code == 200, scan.text
    body = (await review(api, "meetup", meetup["id"])).json()
    assert body["activity"]["stages"] == [
        {"stage": "reached", "count": 5, "of_previous": 1.0, "of_reached": 1.0},
        {"stage": "registered", "count": 3, "of_previous": 0.6, "of_reached": 0.6},
        {"stage": "took_part", "count": 2, "of_previous": 0.6667, "of_reached": 0.4},
        {"stage": "completed", "count": 1, "of_previous": 0.5, "of_reached": 0.2},
    ]
    # m-1 and m-3 paid their seats; m-2's was refunded on cancelling.
    assert body["activity"]["points"] == {"awarded": None, "charged": 20}
    assert body["not_recorded"] == ["rewarded"]


async def test_a_referral_campaign_s_funnel_points_and_channels(api: Any) -> None:
    for member in ("A", "E"):
        await api.seat(member, at=BEFORE)
    campaign = await new_campaign(api)  # tiers: 3 invites → 100 points, 5 → 300
    hour = timedelta(hours=1)
    await deliver(
        api,
        invited("B", "A", T0 + hour),
        invited("C", "A", T0 + 2 * hour),
        invited("D", "A", T0 + 3 * hour),
        invited("F", "E", T0 + 4 * hour),
        invited("G", "A", T0 + 5 * hour),
    )
    await deliver(api, refunded("D", T0 + timedelta(days=1)))  # inside the window
    assert await runner(api).fire_due(now=T0 + WINDOW + 6 * hour) == 4  # B, C, F, G count
    body = (await review(api, "referral", campaign["id"])).json()
    # Reached: A and E (B..G joined after the start, D left after joining after it).
    assert body["activity"]["stages"] == [
        {"stage": "reached", "count": 2, "of_previous": 1.0, "of_reached": 1.0},
        {"stage": "took_part", "count": 2, "of_previous": 1.0, "of_reached": 1.0},
        {"stage": "completed", "count": 1, "of_previous": 0.5, "of_reached": 0.5},
        {"stage": "rewarded", "count": 1, "of_previous": 1.0, "of_reached": 0.5},
    ]
    assert body["activity"]["points"] == {"awarded": 100, "charged": None}
    assert body["channels"] == [
        {
            "channel": "poster",
            "inviters": 2,
            "joined": 5,
            "paid": 5,
            "refunded": 1,
            "converted": 4,
            "converted_rate": 0.8,
        }
    ]
    assert body["not_recorded"] == ["registered"]


# Each kind's activity set up by test_ac_tenancy's tenant A (a-1 seated at T0, the start of
# all but the challenge and the contest, whose first local day began before it), and its
# counts: a-1 took part in all but the poll, the drop and the referral campaign.
KINDS = {
    "challenge": ("challenge_id", [1, 1, 0]),
    "quiz": ("quiz_id", [1, 1, 0]),
    "poll": ("poll_id", [1, 0]),
    "draw": ("draw_id", [1, 1, 0]),
    "drop": ("drop_id", [1, 0, 0]),
    "talk": ("talk_id", [1, 1, 0]),
    "meetup": ("meetup_id", [1, 1, 0, 0]),
    "referral": ("campaign_id", [1, 0, 0, 0]),
    "contest": ("contest_id", [1, 1, 0]),
}


async def test_every_kind_is_reviewed_in_its_tenant_only(api: Any) -> None:
    ids = await tenant_a(api)
    other = api.operator("owner", tenant_id=OTHER)
    for kind, (name, expected) in KINDS.items():
        body = (await review(api, kind, ids[name])).json()
        assert [s["count"] for s in body["activity"]["stages"]] == expected, kind
        assert body["communities"][0]["community_id"] == "c-1"
        awarded = body["activity"]["points"]["awarded"]
        assert awarded == (0 if kind in ("draw", "drop", "referral", "contest") else None), kind
        answer = await api.client.get(f"{AC}/reviews/{kind}/{ids[name]}", headers=other)
        assert answer.status_code == 404, kind
