"""CRM sync in: the field mapping (owners and admins), contacts one by one and in bulk
(owners, admins, a CRM's API key with members:write) mapped and published for onboarding's
directory, the Idempotency-Key (same body → the same answer and no second event, another
body → 422), bad contacts failing alone, and another tenant never seeing or changing any of
it."""

from __future__ import annotations

from typing import Any

from servicekit.events import Event

from .conftest import OTHER, TENANT, Api

CRM = "/v1/integrations/crm"
RECEIVED = "quanzi.integrations.contacts.received.v1"
MAPPING = {"mobile": "phone", "nickname": "display_name", "labels": "tags", "internal": None}


def crm_key(api: Api, tenant_id: str = TENANT, scope: str = "members:write read") -> dict[str, str]:
    token = api.mint.mint(
        tenant_id=tenant_id, subject="apikey:crm", roles=["integration"], scope=scope
    )
    return {"Authorization": f"Bearer {token}"}


async def put_mapping(api: Api, tenant_id: str = TENANT, **body: Any) -> dict[str, Any]:
    answer = await api.client.put(
        f"{CRM}/mapping", json={"fields": MAPPING, **body}, headers=api.owner(tenant_id)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def contacts_of(events: list[Event]) -> list[dict[str, Any]]:
    return [c for e in events for c in e.data["contacts"]]


async def test_owners_and_admins_manage_the_mapping(api: Api) -> None:
    empty = await api.client.get(f"{CRM}/mapping", headers=api.owner())
    assert empty.json() == {"fields": {}, "unmapped": "keep", "updated_at": None}
    saved = await put_mapping(api, unmapped="drop")
    assert saved["fields"] == MAPPING and saved["unmapped"] == "drop" and saved["updated_at"]
    admin = await api.client.get(f"{CRM}/mapping", headers=api.owner(TENANT, "admin"))
    assert admin.json() == saved
    for who in (api.member(), api.owner(TENANT, "operator"), crm_key(api)):
        assert (await api.client.get(f"{CRM}/mapping", headers=who)).status_code == 403
        put = await api.client.put(f"{CRM}/mapping", json={"fields": {}}, headers=who)
        assert put.status_code == 403
    twice = await api.client.put(
        f"{CRM}/mapping", json={"fields": {"a": "phone", "b": "phone"}}, headers=api.owner()
    )
    assert twice.status_code == 422 and twice.json()["type"].endswith("/invalid-mapping")
    key = await api.client.put(
        f"{CRM}/mapping", json={"fields": {"id": "external_id"}}, headers=api.owner()
    )
    assert key.status_code == 422
    still = await api.client.get(f"{CRM}/mapping", headers=api.owner())
    assert still.json() == saved


async def test_one_contact_is_mapped_and_published_once_per_idempotency_key(api: Api) -> None:
    await put_mapping(api)
    body = {
        "fields": {"mobile": "13800000000", "nickname": "王小明", "city": "上海", "internal": 7},
        "tags": ["VIP", "读书会"],
    }
    headers = {**crm_key(api), "Idempotency-Key": "crm-1001-v1"}
    first = await api.client.put(f"{CRM}/contacts/crm-1001", json=body, headers=headers)
    assert first.status_code == 202, first.text
    member = {
        "external_id": "crm-1001",
        "display_name": "王小明",
        "profile": {"phone": "13800000000", "city": "上海"},
        "tags": ["VIP", "读书会"],
    }
    assert first.json()["member"] == member
    again = await api.client.put(f"{CRM}/contacts/crm-1001", json=body, headers=headers)
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    (event,) = await api.published(RECEIVED)
    assert event.key == TENANT and event.tenant_id == TENANT
    assert event.data["batch_id"] == first.json()["batch_id"]
    assert event.data["contacts"] == [member]
    other_body = {**body, "tags": ["VIP"]}
    reused = await api.client.put(f"{CRM}/contacts/crm-1001", json=other_body, headers=headers)
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")
    bad = await api.client.put(
        f"{CRM}/contacts/crm-1001",
        json={"fields": {"labels": "VIP"}},  # tags are a list
        headers={**crm_key(api), "Idempotency-Key": "bad-1"},
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-contact")
    assert bad.headers["content-type"] == "application/problem+json"
    fixed = await api.client.put(
        f"{CRM}/contacts/crm-1001",
        json={"fields": {"labels": ["VIP"]}},
        headers={**crm_key(api), "Idempotency-Key": "bad-1"},  # a refused request kept nothing
    )
    assert fixed.status_code == 202, fixed.text
    assert fixed.json()["member"] == {"external_id": "crm-1001", "profile": {}, "tags": ["VIP"]}
    assert len(await api.published(RECEIVED)) == 2
    # Who may push: owners, admins and API keys with members:write; not a read-only key.
    for who, status in (
        (api.owner(TENANT, "admin"), 202),
        (crm_key(api, scope="read"), 403),
        (api.member(), 403),
        (api.owner(TENANT, "operator"), 403),
    ):
        answer = await api.client.put(f"{CRM}/contacts/crm-2", json={}, headers=who)
        assert answer.status_code == status, answer.text


async def test_a_thousand_contacts_in_one_request_bad_ones_failing_alone(api: Api) -> None:
    await put_mapping(api)
    contacts: list[Any] = [
        {
            "external_id": f"crm-{i:04d}",
            "fields": {"nickname": f"张{i}号会员", "mobile": f"139{i:08d}", "城市": "杭州"},
        }
        for i in range(1000)
    ]
    contacts[3] = {"external_id": "crm-0003", "fields": {"nickname": ["not", "text"]}}
    contacts[7] = {"fields": {"nickname": "无编号"}}  # no external id
    contacts[9] = "not an object"
    headers = {**crm_key(api), "Idempotency-Key": "import-2026-12-01"}
    first = await api.client.post(
        f"{CRM}/contacts/batch", json={"contacts": contacts}, headers=headers
    )
    assert first.status_code == 202, first.text
    receipt = first.json()
    assert (receipt["accepted"], receipt["failed"]) == (997, 3)
    failed = [r for r in receipt["results"] if r["outcome"] == "failed"]
    assert [(r["index"], r["external_id"], r["status"]) for r in failed] == [
        (3, "crm-0003", 422),
        (7, None, 422),
        (9, None, 422),
    ]
    assert all(r["problem"]["type"].endswith("/invalid-contact") for r in failed)
    events = await api.published(RECEIVED)
    rows = contacts_of(events)
    assert len(rows) == 997 and len({r["external_id"] for r in rows}) == 997
    assert rows[0] == {
        "external_id": "crm-0000",
        "display_name": "张0号会员",
        "profile": {"phone": "13900000000", "城市": "杭州"},
    }
    assert [e.data["part"] for e in events] == list(range(1, len(events) + 1))
    assert {e.data["batch_id"] for e in events} == {receipt["batch_id"]}
    again = await api.client.post(
        f"{CRM}/contacts/batch", json={"contacts": contacts}, headers=headers
    )
    assert again.status_code == 202 and again.json() == receipt
    assert len(await api.published(RECEIVED)) == len(events)  # no second effect
    without_key = await api.client.post(
        f"{CRM}/contacts/batch", json={"contacts": contacts[:2]}, headers=crm_key(api)
    )
    assert without_key.status_code == 202 and without_key.json()["accepted"] == 2
    too_many = await api.client.post(
        f"{CRM}/contacts/batch", json={"contacts": contacts + contacts[:1]}, headers=crm_key(api)
    )
    assert too_many.status_code == 422
    bad_key = await api.client.post(
        f"{CRM}/contacts/batch",
        json={"contacts": contacts[:1]},
        headers={**crm_key(api), "Idempotency-Key": "tab\there"},
    )
    assert bad_key.status_code in (400, 422) and bad_key.headers["content-type"] == (
        "application/problem+json"
    )


async def test_another_tenant_neither_sees_nor_changes_the_crm_side(api: Api) -> None:
    await put_mapping(api)
    headers = {"Idempotency-Key": "same-key"}
    ours = await api.client.put(
        f"{CRM}/contacts/c-1",
        json={"fields": {"nickname": "甲"}},
        headers={**crm_key(api), **headers},
    )
    assert ours.status_code == 202
    theirs_mapping = await api.client.get(f"{CRM}/mapping", headers=api.owner(OTHER))
    assert theirs_mapping.json()["fields"] == {}  # not ours
    # The same Idempotency-Key in another tenant is another key: its own effect, unmapped.
    theirs = await api.client.put(
        f"{CRM}/contacts/c-1",
        json={"fields": {"nickname": "乙"}},
        headers={**crm_key(api, OTHER), **headers},
    )
    assert theirs.status_code == 202, theirs.text
    assert theirs.json()["member"]["profile"] == {"nickname": "乙"}
    events = await api.published(RECEIVED)
    assert [(e.tenant_id, e.key) for e in events] == [(TENANT, TENANT), (OTHER, OTHER)]
    assert [e.data["tenant_id"] for e in events] == [TENANT, OTHER]
    replaced = await put_mapping(api, OTHER)
    assert replaced["fields"] == MAPPING
    mine = await api.client.get(f"{CRM}/mapping", headers=api.owner())
    assert mine.json()["updated_at"] is not None and mine.json()["fields"] == MAPPING
