"""The member directory: upserts one by one and in batches, listing, and the CLI import."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import update

from onboarding.cli import main
from onboarding.directory.handlers import on_contacts_received, on_member_identified
from onboarding.directory.importer import SourceRow, import_rows
from onboarding.directory.service import Directory, Outcome
from servicekit.contracts import Registry
from servicekit.db import transaction
from servicekit.events import Event
from servicekit.problems import Problem
from servicekit.tables import outbox
from servicekit.types import utcnow

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding/members"
UPSERTED = "quanzi.onboarding.member.upserted.v1"


async def test_upsert_is_idempotent_and_merges(onboarding: Onboarding) -> None:
    ops = onboarding.operator()
    body = {"display_name": "小林", "profile": {"city": "杭州", "age": 30}, "tags": ["读书", "vip"]}
    created = await onboarding.client.put(f"{BASE}/crm-1", json=body, headers=ops)
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["读书", "vip"] and created.json()["external_id"] == "crm-1"
    again = await onboarding.client.put(f"{BASE}/crm-1", json=body, headers=ops)
    assert again.status_code == 200 and again.json() == created.json()
    assert len(await onboarding.events(UPSERTED)) == 1  # the repeat published nothing
    change = {"profile": {"age": None, "job": "教师"}, "tags": ["读书", "读书"]}
    changed = await onboarding.client.put(f"{BASE}/crm-1", json=change, headers=ops)
    assert changed.status_code == 200, changed.text
    member = changed.json()
    assert member["profile"] == {"city": "杭州", "job": "教师"}  # merged; null removed age
    assert member["display_name"] == "小林" and member["tags"] == ["读书"]
    upserts = await onboarding.events(UPSERTED)
    assert [e.data["created"] for e in upserts] == [True, False]
    assert upserts[1].data["tags"] == ["读书"] and upserts[1].key == "crm-1"
    fetched = await onboarding.client.get(f"{BASE}/crm-1", headers=ops)
    assert fetched.json() == member
    # gateway's member.identified still feeds the same entry, keeping the operator's tags.
    identified = Event(
        type="quanzi.gateway.member.identified.v1",
        source="/gateway",
        tenant_id=onboarding.tenant,
        topic="gateway.members",
        data={"tenant_id": onboarding.tenant, "external_id": "crm-1", "profile": {"avatar": "a"}},
    )
    async with transaction(onboarding.sessions) as session:
        await on_member_identified(session, identified)
    after = (await onboarding.client.get(f"{BASE}/crm-1", headers=ops)).json()
    assert after["profile"]["avatar"] == "a" and after["tags"] == ["读书"]


async def test_directory_is_listed_searched_and_paged(onboarding: Onboarding) -> None:
    ops = onboarding.operator()
    rows = [
        {
            "external_id": f"crm-{n:02}",
            "display_name": f"Member {n}",
            "tags": ["vip"] if n % 2 else [],
        }
        for n in range(7)
    ]
    answer = await onboarding.client.post(f"{BASE}/batch", json={"rows": rows}, headers=ops)
    assert answer.json()["created"] == 7
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {
            "tag": "vip",
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await onboarding.client.get(BASE, params=params, headers=ops)).json()
        seen += [m["external_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["crm-01", "crm-03", "crm-05"]
    by_name = await onboarding.client.get(BASE, params={"q": "member 4"}, headers=ops)
    assert [m["external_id"] for m in by_name.json()["items"]] == ["crm-04"]
    by_id = await onboarding.client.get(BASE, params={"q": "crm-0"}, headers=ops)
    assert len(by_id.json()["items"]) == 7
    wildcard = await onboarding.client.get(BASE, params={"q": "%"}, headers=ops)
    assert wildcard.json()["items"] == []
    for params in ({"cursor": "garbage"}, {"limit": 0}, {"tag": "x" * 51}):
        bad = await onboarding.client.get(BASE, params=params, headers=ops)
        assert bad.status_code in (400, 422), (params, bad.text)


async def test_batch_reports_bad_rows_and_applies_the_others(onboarding: Onboarding) -> None:
    ops = onboarding.operator()
    rows: list[Any] = [
        {"external_id": "ok-1", "display_name": "甲", "profile": {"city": "北京"}},
        {"display_name": "no id"},
        {"external_id": "bad-tags", "tags": "vip"},
        "not an object",
        {"external_id": "nul", "display_name": "a\x00b"},
        {"external_id": "too-many", "profile": {f"k{i}": i for i in range(51)}},
        {"external_id": "ok-2", "tags": ["新人"], "unknown": 1},
        {"external_id": "ok-2", "tags": ["新人"]},
        {"external_id": "ok-1", "profile": {"city": "上海"}},  # the same member again, later
    ]
    answer = await onboarding.client.post(f"{BASE}/batch", json={"rows": rows}, headers=ops)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    statuses = [r["status"] for r in result["results"]]
    assert statuses == [201, 422, 422, 422, 422, 422, 422, 201, 200]
    assert (result["created"], result["updated"], result["failed"]) == (2, 1, 6)
    problem = result["results"][2]["problem"]
    assert problem["type"].endswith("/invalid-row") and problem["errors"][0]["location"] == ["tags"]
    assert result["results"][2]["external_id"] == "bad-tags"
    ok_1 = (await onboarding.client.get(f"{BASE}/ok-1", headers=ops)).json()
    assert ok_1["profile"] == {"city": "上海"}
    assert (await onboarding.client.get(f"{BASE}/bad-tags", headers=ops)).status_code == 404
    events = await onboarding.events(UPSERTED)
    assert sorted(e.data["member_id"] for e in events) == ["ok-1", "ok-2"]  # one per member
    # Re-sending the same rows changes nothing and publishes nothing (ok-1's rows still
    # report what each did in turn: 北京, then back to 上海).
    again = (await onboarding.client.post(f"{BASE}/batch", json={"rows": rows}, headers=ops)).json()
    assert [r["outcome"] for r in again["results"] if r["status"] != 422] == [
        "updated",
        "unchanged",
        "updated",
    ]
    assert (await onboarding.client.get(f"{BASE}/ok-1", headers=ops)).json() == ok_1
    assert len(await onboarding.events(UPSERTED)) == 2
    # Whole-request problems: too many rows, no rows, not a list.
    for body in ({"rows": [{"external_id": "x"}] * 1001}, {"rows": []}, {"rows": {}}, {}):
        bad = await onboarding.client.post(f"{BASE}/batch", json=body, headers=ops)
        assert bad.status_code == 422


async def test_directory_is_for_operators_of_the_tenant(onboarding: Onboarding) -> None:
    ops = onboarding.operator()
    await onboarding.client.put(f"{BASE}/crm-1", json={"display_name": "A"}, headers=ops)
    other = onboarding.operator(tenant="tenant-b")
    assert (await onboarding.client.get(f"{BASE}/crm-1", headers=other)).status_code == 404
    assert (await onboarding.client.get(BASE, headers=other)).json()["items"] == []
    member = onboarding.member("crm-1")
    for method, url, body in (
        ("GET", f"{BASE}/crm-1", None),
        ("GET", BASE, None),
        ("PUT", f"{BASE}/crm-1", {"display_name": "me"}),
        ("POST", f"{BASE}/batch", {"rows": [{"external_id": "crm-1"}]}),
    ):
        answer = await onboarding.client.request(method, url, json=body, headers=member)
        assert answer.status_code == 403, (url, answer.text)
    assert (await onboarding.client.get(BASE)).status_code == 401
    for body in ({"display_name": ""}, {"profile": {"k": {"nested": 1}}}, {"tags": ["a|b"]}):
        bad = await onboarding.client.put(f"{BASE}/crm-2", json=body, headers=ops)
        assert bad.status_code == 422, (body, bad.text)
    long_id = await onboarding.client.put(f"{BASE}/{'x' * 201}", json={}, headers=ops)
    assert long_id.status_code == 422


async def test_a_crm_api_key_syncs_the_directory(onboarding: Onboarding) -> None:
    """A CRM holds an API key, not a 15-minute operator login: members:write upserts (1,000
    in one batch) and reads back; read only reads; payments:write does neither."""
    crm = onboarding.payments(scope="members:write")
    rows = [{"external_id": f"crm-{n}", "display_name": f"会员{n}"} for n in range(1000)]
    batch = await onboarding.client.post(f"{BASE}/batch", json={"rows": rows}, headers=crm)
    assert batch.status_code == 200, batch.text
    assert (batch.json()["created"], batch.json()["failed"]) == (1000, 0)
    one = await onboarding.client.put(f"{BASE}/crm-7", json={"tags": ["vip"]}, headers=crm)
    assert one.status_code == 200 and one.json()["tags"] == ["vip"]
    assert (await onboarding.client.get(f"{BASE}/crm-7", headers=crm)).status_code == 200
    listed = await onboarding.client.get(BASE, params={"tag": "vip"}, headers=crm)
    assert [m["external_id"] for m in listed.json()["items"]] == ["crm-7"]
    bi = onboarding.payments(scope="read")
    assert (await onboarding.client.get(f"{BASE}/crm-7", headers=bi)).status_code == 200
    assert (
        await onboarding.client.get("/v1/onboarding/memberships", headers=bi)
    ).status_code == 200
    refused = await onboarding.client.put(f"{BASE}/crm-7", json={}, headers=bi)
    assert refused.status_code == 403
    payments = onboarding.payments()
    for method, url in (("GET", f"{BASE}/crm-7"), ("PUT", f"{BASE}/crm-7")):
        answer = await onboarding.client.request(method, url, json={}, headers=payments)
        assert answer.status_code == 403, (method, url)
    other = onboarding.payments(tenant="tenant-b", scope="members:write")
    assert (await onboarding.client.get(f"{BASE}/crm-7", headers=other)).status_code == 404


# ---------------------------------------------------------------- the CLI import


def write_csv(path: Path, rows: int, bad_every: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["external_id", "display_name", "tags", "city", "plan"])
        for n in range(rows):
            external_id = "" if n % bad_every == bad_every - 1 else f"csv-{n}"
            writer.writerow([external_id, f"会员{n}", "读书|vip", "杭州", "" if n % 2 else "gold"])


async def test_an_import_waits_while_the_relay_is_behind(onboarding: Onboarding) -> None:
    """No broker here: the outbox keeps every event unpublished. Past the backlog limit a
    batch is refused before anything is written, and the importer waits and sends it again
    once the relay caught up (here: the wait marks the outbox published)."""
    directory = Directory(onboarding.sessions, bulk_backlog=3)
    first = await directory.upsert_batch(
        onboarding.tenant, [{"external_id": f"b-{n}"} for n in range(3)]
    )
    assert [r.outcome for r in first] == [Outcome.CREATED] * 3
    with pytest.raises(Problem) as refused:
        await directory.upsert_batch(onboarding.tenant, [{"external_id": "b-3"}])
    assert (refused.value.status, refused.value.slug) == (429, "publishing-backlog")
    assert refused.value.headers == {"Retry-After": "1"}
    assert len(await onboarding.events(UPSERTED)) == 3  # nothing of the refused batch

    waits: list[float] = []

    async def relay_catches_up(seconds: float) -> None:
        waits.append(seconds)
        async with transaction(onboarding.sessions) as session:
            await session.execute(update(outbox).values(sent_at=utcnow()))

    rows = [SourceRow(line=n, raw={"external_id": f"c-{n}"}) for n in range(4)]
    summary = await import_rows(
        directory,
        onboarding.tenant,
        rows,
        batch_size=2,
        report=lambda _: None,
        wait=relay_catches_up,
    )
    assert (summary.counts[Outcome.CREATED], waits) == (4, [1])
    assert len(await onboarding.events(UPSERTED)) == 7


def run_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *argv: str) -> int:
    monkeypatch.setenv("QUANZI_ONBOARDING_DATABASE_URL", database_url)
    return main(list(argv))


async def test_cli_imports_a_csv_file(
    onboarding: Onboarding,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, errors = tmp_path / "members.csv", tmp_path / "errors.jsonl"
    write_csv(source, rows=2500, bad_every=500)  # 5 rows without an external id
    argv = [
        "members",
        "import",
        str(source),
        "--tenant",
        onboarding.tenant,
        "--errors",
        str(errors),
    ]
    code = await asyncio.to_thread(run_cli, monkeypatch, database_url, *argv, "--batch", "700")
    assert code == 1  # some rows failed
    out = capsys.readouterr()
    assert "created 2495, updated 0, unchanged 0, failed 5" in out.out
    assert "row" in out.err  # the progress bar
    failures = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [f["line"] for f in failures] == [501, 1001, 1501, 2001, 2501]  # header is line 1
    assert all(f["status"] == 422 and f["type"] == "invalid-row" for f in failures)
    member = await onboarding.client.get(f"{BASE}/csv-2", headers=onboarding.operator())
    assert member.json()["profile"] == {"city": "杭州", "plan": "gold"}
    assert member.json()["tags"] == ["读书", "vip"] and member.json()["display_name"] == "会员2"
    assert len(await onboarding.events(UPSERTED)) == 2495
    # Importing the same file again changes nothing.
    again = await asyncio.to_thread(run_cli, monkeypatch, database_url, *argv)
    assert (
        again == 1 and "created 0, updated 0, unchanged 2495, failed 5" in capsys.readouterr().out
    )
    assert len(await onboarding.events(UPSERTED)) == 2495


async def test_cli_imports_json_lines(
    onboarding: Onboarding,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, errors = tmp_path / "members.jsonl", tmp_path / "errors.jsonl"
    lines = [json.dumps({"external_id": f"j-{n}", "tags": [f"t{n % 3}"]}) for n in range(1200)]
    lines[10] = "{not json"
    lines[20] = json.dumps({"external_id": "j-20", "profile": {"deep": {"x": 1}}})
    lines.insert(30, "")  # blank lines are skipped
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = [
        "members",
        "import",
        str(source),
        "--tenant",
        onboarding.tenant,
        "--errors",
        str(errors),
    ]
    assert await asyncio.to_thread(run_cli, monkeypatch, database_url, *argv) == 1
    assert "created 1198, updated 0, unchanged 0, failed 2" in capsys.readouterr().out
    failures = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(f["line"], f["external_id"]) for f in failures] == [(11, None), (21, "j-20")]
    tagged = await onboarding.client.get(BASE, params={"tag": "t1"}, headers=onboarding.operator())
    assert len(tagged.json()["items"]) == 50  # the default page
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps({"external_id": "j-0", "display_name": "零"}) + "\n")
    ok = ["members", "import", str(clean), "--tenant", onboarding.tenant, "--format", "jsonl"]
    assert await asyncio.to_thread(run_cli, monkeypatch, database_url, *ok) == 0
    assert "updated 1" in capsys.readouterr().out
    missing = ["members", "import", str(tmp_path / "nope.csv"), "--tenant", onboarding.tenant]
    assert await asyncio.to_thread(run_cli, monkeypatch, database_url, *missing) == 2
    no_id = tmp_path / "no-id.csv"
    no_id.write_text("name,city\nA,B\n")
    bad_header = ["members", "import", str(no_id), "--tenant", onboarding.tenant]
    assert await asyncio.to_thread(run_cli, monkeypatch, database_url, *bad_header) == 2


def contacts_received(tenant: str, contacts: list[dict[str, Any]], part: int = 1) -> Event:
    return Event(
        type="quanzi.integrations.contacts.received.v1",
        source="/integrations",
        tenant_id=tenant,
        topic="integrations.contacts",
        key=tenant,
        data={
            "tenant_id": tenant,
            "batch_id": "crm_batch1",
            "part": part,
            "parts": 2,
            "received_at": "2026-12-01T08:00:00+00:00",
            "contacts": contacts,
        },
    )


async def test_a_crms_contacts_from_integrations_are_applied_once(
    onboarding: Onboarding,
) -> None:
    """integrations' contacts.received → the directory: upserts in order (a later part's
    change wins), Chinese names kept, tags replaced when given, a refused row alone skipped,
    another tenant's contacts in its own directory; applying the events again changes and
    publishes nothing."""
    ops = onboarding.operator()
    await onboarding.client.put(
        f"{BASE}/crm-2", json={"display_name": "旧名", "tags": ["老会员"]}, headers=ops
    )
    first = [
        {"external_id": f"crm-{i}", "display_name": f"会员{i}号", "profile": {"phone": f"1{i}"}}
        for i in range(1, 4)
    ]
    first[1] = {"external_id": "crm-2", "profile": {"city": "上海"}}  # name and tags kept
    second = [
        {"external_id": "crm-3", "display_name": "王小明", "profile": {}, "tags": ["VIP"]},
        {"external_id": "bad\nid", "profile": {}},  # refused alone
    ]
    batch = [
        contacts_received(onboarding.tenant, first),
        contacts_received(onboarding.tenant, second, 2),
    ]
    batch.append(contacts_received("tenant-b", [{"external_id": "crm-1", "profile": {"x": 1}}]))
    for event in batch:
        Registry.load().validate(event)
    before = len(await onboarding.events(UPSERTED))
    async with transaction(onboarding.sessions) as session:
        await on_contacts_received(session, batch)
    listed = (await onboarding.client.get(f"{BASE}?limit=50", headers=ops)).json()["items"]
    by_id = {m["external_id"]: m for m in listed}
    assert set(by_id) == {"crm-1", "crm-2", "crm-3"}
    assert by_id["crm-1"]["display_name"] == "会员1号" and by_id["crm-1"]["profile"] == {
        "phone": "11"
    }
    assert by_id["crm-2"]["display_name"] == "旧名" and by_id["crm-2"]["tags"] == ["老会员"]
    assert by_id["crm-2"]["profile"] == {"city": "上海"}
    assert by_id["crm-3"]["display_name"] == "王小明" and by_id["crm-3"]["tags"] == ["VIP"]
    assert by_id["crm-3"]["profile"] == {"phone": "13"}  # merged across the two parts
    other = (await onboarding.client.get(BASE, headers=onboarding.operator("tenant-b"))).json()
    assert [m["profile"] for m in other["items"]] == [{"x": 1}]
    upserted = await onboarding.events(UPSERTED)
    assert len(upserted) - before == 4  # crm-1, crm-2, crm-3 and tenant-b's crm-1
    async with transaction(onboarding.sessions) as session:
        await on_contacts_received(session, batch)  # a replay: nothing changes
    assert len(await onboarding.events(UPSERTED)) == len(upserted)
    again = (await onboarding.client.get(f"{BASE}?limit=50", headers=ops)).json()["items"]
    assert again == listed
