"""Meetup seats rewards refused to charge, on both backends: the seat is freed once (the
registration becomes unpaid, nothing refunded) and offered to the head of the waitlist, as
a cancellation would; a refusal of a seat no longer confirmed, or of another tenant,
changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from activities import app as activities_app
from activities.meetups import handlers as meetups_handlers
from servicekit.contracts import Registry
from servicekit.db import transaction
from servicekit.events import Event

from .conftest import T0, TENANT
from .test_ac_meetups import CANCELLED, PROMOTED, cancel, mine, new_meetup, register, url


def refused(registration: dict[str, Any], tenant_id: str = TENANT) -> Event:
    event = Event(
        type=meetups_handlers.PAYMENT_REFUSED,
        source="/rewards",
        tenant_id=tenant_id,
        topic="rewards.points",
        key=registration["member_id"],
        time=T0 + timedelta(hours=1),
        data={
            "tenant_id": tenant_id,
            "member_id": registration["member_id"],
            "meetup_id": registration["meetup_id"],
            "registration_id": registration["id"],
            "community_id": "c-1",
            "cost_points": 30,
            "available": 10,
            "refused_at": (T0 + timedelta(hours=1)).isoformat(),
        },
    )
    Registry.load().validate(event)  # what rewards may publish
    return event


async def deliver(api: Any, event: Event) -> None:
    handler = activities_app.LEVELS.handlers[meetups_handlers.PAYMENT_REFUSED]
    async with transaction(api.app.state.sessions) as session:
        await handler(session, event)


async def test_a_refused_seat_is_freed_once_for_the_waitlist(api: Any) -> None:
    for member in ("m-1", "m-2", "m-3"):
        await api.seat(member)
    meetup = await new_meetup(api, capacity=1, cost_points=30, confirm_hours=12)
    first = (await register(api, meetup, "m-1")).json()
    assert first["status"] == "confirmed"
    assert (await register(api, meetup, "m-2")).json()["status"] == "waitlisted"
    assert (await register(api, meetup, "m-3")).json()["status"] == "waitlisted"
    api.at(T0 + timedelta(hours=1))
    for _ in range(2):  # redelivered: freed once
        await deliver(api, refused(first))
    assert (await mine(api, meetup, "m-1"))["status"] == "unpaid"
    offer = await mine(api, meetup, "m-2")
    assert offer["status"] == "offered"
    assert offer["confirm_by"].startswith("2026-12-01T13:00:00")  # 12 h from the refusal
    assert (await mine(api, meetup, "m-3"))["status"] == "waitlisted"
    [gone] = await api.published(CANCELLED)  # validated against its contract
    assert (gone.data["member_id"], gone.data["from_status"]) == ("m-1", "confirmed")
    assert (gone.data["reason"], gone.data["refund_points"]) == ("payment refused", 0)
    assert [e.data["member_id"] for e in await api.published(PROMOTED)] == ["m-2"]
    # The unpaid member cannot cancel what is no longer theirs; the seat count held.
    again = await cancel(api, meetup, "m-1")
    assert again.status_code == 409 and again.json()["type"].endswith("not-cancellable")
    detail = await api.client.get(url(meetup), headers=api.operator())
    assert detail.json()["seats_taken"] == 1


async def test_a_refusal_of_a_seat_not_confirmed_or_of_another_tenant_changes_nothing(
    api: Any,
) -> None:
    for member in ("m-1", "m-2"):
        await api.seat(member)
    meetup = await new_meetup(api, capacity=1, cost_points=30)
    first = (await register(api, meetup, "m-1")).json()
    second = (await register(api, meetup, "m-2")).json()
    await deliver(api, refused(first, tenant_id="t-other"))  # same ids, another tenant
    await deliver(api, refused(second))  # waitlisted: it holds no seat to free
    await deliver(api, refused({**first, "meetup_id": "no-such-meetup"}))
    assert (await mine(api, meetup, "m-1"))["status"] == "confirmed"
    assert (await mine(api, meetup, "m-2"))["status"] == "waitlisted"
    assert await api.published(CANCELLED) == []
