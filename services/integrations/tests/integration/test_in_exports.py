"""The members export end to end inside the service: the platform's events through the
consumer (in any order, twice), the nightly timer at 02:00 on the tenant's clock, a file
on request built by the timers in pages, the download checked row by row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.exports import domain, service
from integrations.exports.domain import Balance, Profile, Wallet
from integrations.exports.repository import ExportsRepository
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.testing import contracts

from .conftest import OTHER, TENANT, Api

EXPORTS = "/v1/integrations/exports"
TOPICS = {
    "onboarding.member": "onboarding.members",
    "onboarding.membership": "onboarding.memberships",
    "rewards.points": "rewards.points",
    "rewards.level": "rewards.points",
    "gateway.tenant": "gateway.tenants",
}


def event(short: str, tenant_id: str = TENANT, **data: Any) -> Event:
    """``short`` as ``onboarding.member.upserted``: the contract's example, overridden."""
    type_ = f"quanzi.{short}.v1"
    topic = TOPICS[short.rsplit(".", 1)[0]]
    payload = {**contracts().examples[type_][0], **data, "tenant_id": tenant_id}
    return Event(
        type=type_,
        source="/test",
        tenant_id=tenant_id,
        topic=topic,
        key=str(payload.get("member_id") or tenant_id),
        data=payload,
    )


def upserted(member_id: str, name: str | None, at: str, **data: Any) -> Event:
    return event(
        "onboarding.member.upserted",
        member_id=member_id,
        display_name=name,
        profile={},
        upserted_at=at,
        **data,
    )


def activated(member_id: str, membership_id: str, community_id: str, **data: Any) -> Event:
    base = {
        "membership_id": membership_id,
        "member_id": member_id,
        "community_id": community_id,
        "tier": "trial",
        "group_id": None,
        "source": {"kind": "open"},
        "activated_at": "2026-12-01T08:00:00+00:00",
        "trial_ends_at": "2026-12-08T08:00:00+00:00",
        "term_ends_at": None,  # a trial: no paid term (the example has one)
    }
    tenant_id = data.pop("tenant_id", TENANT)
    return event("onboarding.membership.activated", tenant_id, **{**base, **data})


def balance(
    member_id: str, at: str, available: int, lifetime: int, kind: str = "credited"
) -> Event:
    wallet = {"available": available, "pending": 0, "lifetime": lifetime, "debt": 0, "level": 1}
    return event(f"rewards.points.{kind}", member_id=member_id, occurred_at=at, balance=wallet)


async def download(api: Api, export_id: str, tenant_id: str = TENANT) -> tuple[bytes, Any]:
    answer = await api.client.get(f"{EXPORTS}/{export_id}", headers=api.owner(tenant_id))
    assert answer.status_code == 200, answer.text
    return answer.content, answer


def rows_of(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


async def listed(api: Api, tenant_id: str = TENANT, query: str = "") -> dict[str, Any]:
    answer = await api.client.get(f"{EXPORTS}{query}", headers=api.owner(tenant_id))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


HEADER = [
    "member_id",
    "display_name",
    "tags",
    "level",
    "level_name",
    "points_available",
    "points_pending",
    "points_lifetime",
    "points_debt",
    "membership_id",
    "community_id",
    "tier",
    "status",
    "activated_at",
    "expires_at",
]


async def test_the_nightly_export_at_two_on_the_tenants_clock(api: Api) -> None:
    api.at(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))  # 18:00 in Shanghai
    events = [
        upserted("m-1", "张三", "2026-12-01T00:00:00+00:00", tags=["读书", "vip"]),
        upserted("m-2", "=李四", "2026-12-01T00:00:00+00:00", tags=[]),
        activated("m-1", "ms-1", "c-1"),
        event(
            "onboarding.membership.tier_changed",
            membership_id="ms-1",
            member_id="m-1",
            community_id="c-1",
            changed_at="2026-12-02T08:00:00+00:00",
        ),
        activated("m-1", "ms-2", "c-0", tier="core", trial_ends_at=None, term_ends_at=None),
        event(
            "onboarding.membership.expired",
            membership_id="ms-2",
            member_id="m-1",
            community_id="c-0",
            tier="core",
            expired_at="2026-12-03T00:00:00+00:00",
        ),
        balance("m-1", "2026-12-03T00:00:00+00:00", 120, 150),
        event(
            "rewards.level.changed",
            member_id="m-1",
            level=2,
            name="白银",
            changed_at="2026-12-03T00:00:00+00:00",
        ),
        activated("m-3", "ms-3", "c-1"),  # no directory event yet: a member row all the same
        upserted("x-1", "别人", "2026-12-01T00:00:00+00:00", tenant_id=OTHER),
    ]
    # Late and repeated: an older ledger entry and an older profile change nothing.
    stale = [
        balance("m-1", "2026-12-02T00:00:00+00:00", 5, 10, "debited"),
        upserted("m-1", "旧名", "2026-11-01T00:00:00+00:00", tags=["old"]),
    ]
    await api.consume(*events)
    await api.consume(*stale, *events)
    assert await api.tick(datetime(2026, 12, 4, 17, 59, tzinfo=UTC), exports=True) == 0
    assert await api.tick(datetime(2026, 12, 4, 18, 0, tzinfo=UTC), exports=True) >= 1
    (made,) = (await listed(api))["items"]
    assert made["kind"] == "nightly" and made["status"] == "ready"
    assert made["filename"] == "members-2026-12-05.csv" and made["rows"] == 4
    content, answer = await download(api, made["id"])
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="members-2026-12-05.csv"'
    assert len(content) == made["size_bytes"]
    m1 = ["m-1", "张三", "读书|vip", "2", "白银", "120", "0", "150", "0"]
    assert rows_of(content) == [
        HEADER,
        [*m1, "ms-2", "c-0", "core", "expired", "2026-12-01T16:00:00+08:00", ""],
        [
            *m1,
            "ms-1",
            "c-1",
            "core",
            "active",
            "2026-12-01T16:00:00+08:00",
            "2026-12-08T16:00:00+08:00",
        ],
        ["m-2", "'=李四", "", "", "", "", "", "", "", "", "", "", "", "", ""],
        [
            "m-3",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "ms-3",
            "c-1",
            "trial",
            "active",
            "2026-12-01T16:00:00+08:00",
            "2026-12-08T16:00:00+08:00",
        ],
    ]
    # The next night is armed; the other tenant has its own file, without ours.
    await api.tick(datetime(2026, 12, 5, 18, 0, tzinfo=UTC), exports=True)
    both = (await listed(api))["items"]
    assert [e["filename"] for e in both] == ["members-2026-12-06.csv", "members-2026-12-05.csv"]
    (theirs,) = (await listed(api, OTHER))["items"][-1:]
    other_rows = rows_of((await download(api, theirs["id"], OTHER))[0])
    assert [row[:2] for row in other_rows[1:]] == [["x-1", "别人"]]


async def test_a_tenants_zone_moves_its_night(api: Api) -> None:
    api.at(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    await api.consume(upserted("x-1", "Ann", "2026-12-01T00:00:00+00:00", tenant_id=OTHER))
    await api.consume(
        event(
            "gateway.tenant.updated",
            OTHER,
            timezone="America/New_York",
            updated_at="2026-12-04T09:00:00+00:00",
        ),
        # An older event naming another zone changes nothing.
        event(
            "gateway.tenant.updated",
            OTHER,
            timezone="Europe/Paris",
            updated_at="2026-12-04T08:00:00+00:00",
        ),
    )
    await api.tick(datetime(2026, 12, 4, 18, 0, tzinfo=UTC), exports=True)  # 02:00 Shanghai
    assert (await listed(api, OTHER))["items"] == []
    await api.tick(datetime(2026, 12, 5, 7, 0, tzinfo=UTC), exports=True)  # 02:00 New York
    (made,) = (await listed(api, OTHER))["items"]
    assert made["filename"] == "members-2026-12-05.csv"


async def test_an_export_on_request_is_built_in_pages(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "PAGE_SIZE", 2)
    api.at(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    names = ["王芳", "李娜", "张伟", "刘洋", "陈静"]
    await api.consume(
        *(upserted(f"m-{i}", name, "2026-12-01T00:00:00+00:00") for i, name in enumerate(names))
    )
    asked = await api.client.post(EXPORTS, headers=api.owner(TENANT, "admin"))
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending" and asked.json()["requested_by"] == "op-1"
    early = await api.client.get(f"{EXPORTS}/{asked.json()['id']}", headers=api.owner())
    assert early.status_code == 409
    assert early.headers["content-type"] == "application/problem+json"
    await api.tick(exports=True)
    content, _ = await download(api, asked.json()["id"])
    assert [row[:2] for row in rows_of(content)[1:]] == [
        [f"m-{i}", name] for i, name in enumerate(names)
    ]
    # Newest first, a page at a time.
    api.later(timedelta(minutes=1))
    second = (await api.client.post(EXPORTS, headers=api.owner())).json()
    first = await listed(api, query="?limit=1")
    assert [e["id"] for e in first["items"]] == [second["id"]]
    rest = await listed(api, query=f"?limit=1&cursor={first['next_cursor']}")
    assert [e["id"] for e in rest["items"]] == [asked.json()["id"]]
    assert rest["next_cursor"] is None


async def test_members_and_operators_may_not_export(api: Api) -> None:
    for headers in (api.member(), api.owner(TENANT, "operator"), api.owner(TENANT, "integration")):
        assert (await api.client.get(EXPORTS, headers=headers)).status_code == 403
        assert (await api.client.post(EXPORTS, headers=headers)).status_code == 403
    missing = await api.client.get(f"{EXPORTS}/exp_nope", headers=api.owner())
    assert missing.status_code == 404


async def test_concurrent_runs_never_undo_each_others_part(api: Api) -> None:
    """Three topics feed a member, read by different consumers at once: a run that loaded
    the row before another's write saves only the parts it moved (newer ones win)."""
    at = datetime(2026, 12, 1, tzinfo=UTC)
    key = (TENANT, "m-1")
    async with transaction(api.app.state.sessions) as session:
        repo = ExportsRepository(session)
        await repo.save_members({key: domain.fold_member(None, Profile(at, "张三", ("vip",)))})
        # Runs that read the row before that write: no profile in their state.
        wallet = Wallet(at, Balance(1, 2, 3, 0))
        await repo.save_members({key: domain.fold_member(None, wallet)})
        stale = Profile(at - timedelta(days=1), "旧名", ("old",))
        await repo.save_members({key: domain.fold_member(None, stale)})
        found = (await repo.members([key]))[key]
    assert (found.display_name, found.tags, found.balance) == ("张三", ("vip",), wallet.balance)
