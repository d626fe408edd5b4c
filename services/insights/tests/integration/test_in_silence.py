"""Silent members on both backends: a timer per member fires at the local midnight that
ends the Nth idle day, `member.went_silent` is published once with its arm, engagement
moves the timer, engagement after the silence publishes `member.reactivated`, the
hold-out share receives nothing, the report compares the arms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from insights.silence.domain import held_out

from .conftest import T0, TENANT, Api, checkin, community, joined, membership, post

DAY = timedelta(days=1)
WENT_SILENT = "quanzi.insights.member.went_silent.v1"
REACTIVATED = "quanzi.insights.member.reactivated.v1"
# Joined 1 Dec 08:00 Shanghai: 14 idle days are 2..15 Dec; silent from 16 Dec 00:00 local.
SILENT_AT = datetime(2026, 12, 15, 16, tzinfo=UTC)


async def test_an_idle_member_goes_silent_once_at_the_local_midnight(api: Api) -> None:
    await api.deliver(community("c-1"), joined("m1"), joined("m2"))
    await api.deliver(post("p1", "m2", at=T0 + 3 * DAY))  # moves m2's timer by 3 days
    assert await api.fire_timers(SILENT_AT - timedelta(seconds=1)) == 0
    assert await api.fire_timers(SILENT_AT) == 1
    [event] = await api.published(WENT_SILENT)
    assert event.key == "m1" and event.data["member_id"] == "m1"
    assert event.data["silent_since"] == SILENT_AT.isoformat()
    assert event.data["held_out"] is held_out(TENANT, "c-1", "m1", 10)
    assert await api.fire_timers(SILENT_AT + 30 * DAY) == 1  # m2, three days later
    assert len(await api.published(WENT_SILENT)) == 2
    assert await api.fire_timers(SILENT_AT + 60 * DAY) == 0  # once per silence

    api.at(SILENT_AT + 31 * DAY)
    page = await api.get("/silent", community_id="c-1", limit=1)
    assert [i["member_id"] for i in page["items"]] == ["m1"]
    second = await api.get("/silent", community_id="c-1", limit=1, cursor=page["next_cursor"])
    assert [i["member_id"] for i in second["items"]] == ["m2"] and second["next_cursor"] is None
    assert (await api.get("/summary", community_id="c-1"))["communities"][0]["silent"] == 2

    # m1 checks in: reactivated, once; an engagement from before the silence changes nothing
    await api.deliver(checkin("k-old", "m1", at=T0 + 2 * DAY))
    assert await api.published(REACTIVATED) == []
    back = SILENT_AT + 2 * DAY
    await api.deliver(checkin("k1", "m1", at=back), checkin("k2", "m1", at=back + DAY))
    [event] = await api.published(REACTIVATED)
    assert event.data["reactivated_at"] == back.isoformat()
    assert [i["member_id"] for i in (await api.get("/silent"))["items"]] == ["m2"]

    report = await api.get("/reactivation", community_id="c-1", **{"from": "2026-12-01"})
    arms = report["contacted"], report["held_out"]
    assert sum(a["silent"] for a in arms) == 2 and sum(a["reactivated"] for a in arms) == 1

    # back in, m1's timer runs again from the check-in
    assert await api.fire_timers(back + DAY + 15 * DAY) == 1
    assert len(await api.published(WENT_SILENT)) == 3


async def test_members_who_left_are_never_silent(api: Api) -> None:
    await api.deliver(community("c-1"), joined("m1"), membership("left", "m1", at=T0 + DAY))
    assert await api.fire_timers(SILENT_AT + 100 * DAY) == 0
    assert await api.published(WENT_SILENT) == []


async def test_the_held_out_share_and_the_settings(api: Api) -> None:
    await api.deliver(community("c-1"))
    answer = await api.client.put(
        "/v1/insights/communities/c-1/settings",
        json={"silent_after_days": 7, "holdout_percent": 50},
        headers=api.operator("admin"),
    )
    assert answer.status_code == 200, answer.text
    members = [f"m{i}" for i in range(40)]
    await api.deliver_batch(*(joined(m) for m in members))
    # 7 idle days: silent from 9 Dec 00:00 Shanghai
    assert await api.fire_timers(datetime(2026, 12, 8, 16, tzinfo=UTC)) == len(members)
    silent = await api.published(WENT_SILENT)
    held = {e.data["member_id"] for e in silent if e.data["held_out"]}
    assert held == {m for m in members if held_out(TENANT, "c-1", m, 50)}
    assert 0 < len(held) < len(members)
    assert all(e.data["silent_after_days"] == 7 for e in silent)
    # contacted members come back, held-out ones do not: the report shows the lift
    later = datetime(2026, 12, 10, tzinfo=UTC)
    await api.deliver_batch(*(post(f"p-{m}", m, at=later) for m in members if m not in held))
    api.at(later)
    report = await api.get("/reactivation", community_id="c-1")
    assert report["contacted"]["rate"] == 1.0 and report["held_out"]["rate"] == 0.0
    assert report["lift"] == 1.0
    # members of other tenants and other roles may not change settings
    for headers in (api.operator("operator"), api.member("m1")):
        refused = await api.client.put(
            "/v1/insights/communities/c-1/settings",
            json={"silent_after_days": 3, "holdout_percent": 0},
            headers=headers,
        )
        assert refused.status_code == 403
    unknown = await api.client.put(
        "/v1/insights/communities/c-404/settings",
        json={"silent_after_days": 3, "holdout_percent": 0},
        headers=api.operator(),
    )
    assert unknown.status_code == 404


async def test_a_cursor_we_did_not_issue_is_a_400(api: Api) -> None:
    import base64
    import json

    await api.deliver(community("c-1"))
    for values in (["0001-01-01T00:00:00+14:00", "c", "m"], ["2026-12-01T00:00:00", "c", "m"]):
        cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
        answer = await api.client.get(
            "/v1/insights/silent", params={"cursor": cursor}, headers=api.operator()
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["type"].endswith("/invalid-cursor")
