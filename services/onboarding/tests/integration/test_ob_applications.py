"""Applications with a questionnaire: apply, the review queue, rules, and the paid combination."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import Onboarding

BASE = "/v1/onboarding"
SUBMITTED = "quanzi.onboarding.application.submitted.v1"
APPROVED = "quanzi.onboarding.application.approved.v1"
REJECTED = "quanzi.onboarding.application.rejected.v1"
ACTIVATED = "quanzi.onboarding.membership.activated.v1"

FORM: dict[str, Any] = {
    "fields": [
        {"key": "name", "label": "怎么称呼", "kind": "text", "max_length": 20},
        {"key": "city", "label": "城市", "kind": "choice", "choices": ["杭州", "上海", "其他"]},
        {
            "key": "goals",
            "label": "想收获什么",
            "kind": "multi_choice",
            "choices": ["读书", "交友", "广告"],
            "required": False,
        },
    ],
    "rules": [
        {
            "decision": "reject",
            "conditions": [{"key": "goals", "op": "any_of", "values": ["广告"]}],
            "reason": "不接受广告",
        },
        {
            "decision": "approve",
            "conditions": [{"key": "city", "op": "equals", "values": ["杭州"]}],
        },
    ],
}
GOOD = {"name": "小林", "city": "上海", "goals": ["读书"]}  # no rule matches: a reviewer decides


async def apply(
    onboarding: Onboarding, community_id: str, member: str, answers: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/communities/{community_id}/applications",
        json={"answers": answers, **extra},
        headers=onboarding.member(member),
    )


async def decide(
    onboarding: Onboarding, application_id: str, verb: str, reason: str | None = None
) -> httpx.Response:
    return await onboarding.client.post(
        f"{BASE}/applications/{application_id}/{verb}",
        json={"reason": reason} if reason else {},
        headers=onboarding.operator(roles=("operator",)),
    )


async def test_apply_then_approve_activates(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    cid = community["id"]
    seen = await onboarding.client.get(f"{BASE}/communities/{cid}", headers=onboarding.member("m"))
    assert [f["key"] for f in seen.json()["application_form"]["fields"]] == [
        "name",
        "city",
        "goals",
    ]
    assert "rules" not in seen.json()["application_form"]  # applicants never see the rules
    join = await onboarding.client.post(
        f"{BASE}/communities/{cid}/join", headers=onboarding.member("crm-1")
    )
    assert join.status_code == 409 and join.json()["type"].endswith("/application-required")

    applied = await apply(onboarding, cid, "crm-1", GOOD)
    assert applied.status_code == 201, applied.text
    application = applied.json()["application"]
    assert application["status"] == "pending" and application["answers"] == GOOD
    assert applied.json()["membership"]["status"] == "pending_application"
    again = await apply(onboarding, cid, "crm-1", {**GOOD, "name": "另一个"})
    assert again.status_code == 200 and again.json()["application"]["id"] == application["id"]

    approved = await decide(onboarding, application["id"], "approve", "欢迎")
    assert approved.status_code == 200, approved.text
    assert approved.json()["application"]["status"] == "approved"
    assert approved.json()["application"]["decided_by"] == "op-1"
    assert approved.json()["membership"]["status"] == "active"
    assert (await decide(onboarding, application["id"], "reject", "x")).status_code == 409
    [submitted] = await onboarding.events(SUBMITTED)
    [decided] = await onboarding.events(APPROVED)
    [activated] = await onboarding.events(ACTIVATED)
    assert submitted.key == decided.key == activated.key == "crm-1"
    assert decided.data["auto"] is False and decided.data["reason"] == "欢迎"
    assert activated.data["source"]["kind"] == "application"
    assert "answers" not in submitted.data  # personal data stays out of the log


async def test_bad_answers_list_every_field_and_write_nothing(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    bad = await apply(
        onboarding, community["id"], "crm-1", {"name": "x" * 21, "goals": "读书", "age": 3}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["type"].endswith("/invalid-answers")
    assert {e["location"][-1]: e["message"] for e in bad.json()["errors"]} == {
        "age": "not a field of this form",
        "name": "at most 20 characters",
        "city": "an answer is required",
        "goals": "a list of choices",
    }
    for body in ({}, {"answers": "no"}, {"answers": {}, "extra": 1}):
        answer = await onboarding.client.post(
            f"{BASE}/communities/{community['id']}/applications",
            json=body,
            headers=onboarding.member("crm-1"),
        )
        assert answer.status_code == 422, body
    assert await onboarding.events(SUBMITTED) == []
    mine = await onboarding.client.get(f"{BASE}/me/memberships", headers=onboarding.member("crm-1"))
    assert mine.json()["items"] == []


async def test_rules_decide_at_submit_time(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    ads = await apply(
        onboarding, community["id"], "spam", {**GOOD, "city": "杭州", "goals": ["广告"]}
    )
    assert ads.json()["application"]["status"] == "rejected"
    assert ads.json()["application"]["reason"] == "不接受广告"
    assert ads.json()["membership"]["status"] == "removed"
    local = await apply(onboarding, community["id"], "local", {**GOOD, "city": "杭州"})
    assert local.json()["application"]["status"] == "approved"
    assert local.json()["application"]["auto"] is True
    assert local.json()["membership"]["status"] == "active"
    [rejected] = await onboarding.events(REJECTED)
    assert rejected.data["auto"] is True and rejected.data["decided_by"] is None
    # The rejected applicant sees why, and may apply again (to a reviewer this time).
    mine = await onboarding.client.get(f"{BASE}/me/applications", headers=onboarding.member("spam"))
    assert [a["reason"] for a in mine.json()["items"]] == ["不接受广告"]
    again = await apply(onboarding, community["id"], "spam", GOOD)
    assert (
        again.status_code == 201 and again.json()["membership"]["status"] == "pending_application"
    )


async def test_application_then_payment(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(application_form=FORM)
    cid = community["id"]
    early = await onboarding.pay(cid, "crm-1", "pay-0")
    assert early.status_code == 409 and early.json()["type"].endswith("/application-required")
    application = (await apply(onboarding, cid, "crm-1", GOOD)).json()["application"]
    pending = await onboarding.pay(cid, "crm-1", "pay-1")
    assert pending.status_code == 409  # still under review
    approved = await decide(onboarding, application["id"], "approve")
    assert approved.json()["membership"]["status"] == "pending_payment"
    assert await onboarding.events(ACTIVATED) == []  # not before the payment
    paid = await onboarding.pay(cid, "crm-1", "pay-2")
    assert paid.status_code == 201, paid.text
    assert paid.json()["membership"]["status"] == "active"
    [activated] = await onboarding.events(ACTIVATED)
    assert activated.data["source"]["kind"] == "application"

    refused = (await apply(onboarding, cid, "crm-2", GOOD)).json()["application"]
    await decide(onboarding, refused["id"], "reject", "名额已满")
    rejected_pays = await onboarding.pay(cid, "crm-2", "pay-3")
    assert rejected_pays.status_code == 409


async def test_trial_after_approval(onboarding: Onboarding) -> None:
    community = await onboarding.paid_community(application_form=FORM, trial_days=7)
    applied = await apply(onboarding, community["id"], "crm-1", {**GOOD, "city": "杭州"})
    assert applied.json()["membership"]["status"] == "trial"


async def test_review_queue_is_paged_and_filtered(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    other = await onboarding.community(slug="other-club", application_form=FORM)
    for i in range(5):
        await apply(onboarding, community["id"], f"crm-{i}", GOOD)
    await apply(onboarding, other["id"], "crm-9", GOOD)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"status": "pending", "community_id": community["id"], "limit": 2}
        page = await onboarding.client.get(
            f"{BASE}/applications",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=onboarding.operator(),
        )
        seen += [a["member_id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"crm-{i}" for i in range(5)]  # oldest first
    everything = await onboarding.client.get(f"{BASE}/applications", headers=onboarding.operator())
    assert len(everything.json()["items"]) == 6
    for params in ({"status": "maybe"}, {"cursor": "???"}, {"limit": 500}):
        bad = await onboarding.client.get(
            f"{BASE}/applications", params=params, headers=onboarding.operator()
        )
        assert bad.status_code in (400, 422), params
        assert bad.headers["content-type"] == "application/problem+json"


async def test_bulk_review_reports_each_id(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    ids = []
    for i in range(4):
        ids.append(
            (await apply(onboarding, community["id"], f"crm-{i}", GOOD)).json()["application"]["id"]
        )
    await decide(onboarding, ids[3], "reject", "no")
    url = f"{BASE}/applications/review"
    body = {"application_ids": [*ids, "no-such-id"], "decision": "approve"}
    answer = await onboarding.client.post(url, json=body, headers=onboarding.operator())
    assert answer.status_code == 200, answer.text
    results = {r["application_id"]: r for r in answer.json()["results"]}
    assert [results[i]["status"] for i in ids] == [200, 200, 200, 409]
    assert results[ids[3]]["problem"]["type"].endswith("/application-decided")
    assert results["no-such-id"]["status"] == 404 and results["no-such-id"]["result"] is None
    assert results[ids[0]]["result"]["membership"]["status"] == "active"
    assert len(await onboarding.events(APPROVED)) == 3
    for bad in (
        {"application_ids": [ids[0], ids[0]], "decision": "approve"},
        {"application_ids": [f"id-{i}" for i in range(101)], "decision": "approve"},
        {"application_ids": [ids[0]], "decision": "reject"},  # a rejection needs a reason
        {"application_ids": [], "decision": "approve"},
        {"application_ids": [ids[0]], "decision": "maybe"},
    ):
        refused = await onboarding.client.post(url, json=bad, headers=onboarding.operator())
        assert refused.status_code == 422, bad


async def test_leaving_withdraws_the_application(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    application = (await apply(onboarding, community["id"], "crm-1", GOOD)).json()["application"]
    await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/leave", headers=onboarding.member("crm-1")
    )
    fetched = await onboarding.client.get(
        f"{BASE}/applications/{application['id']}", headers=onboarding.operator()
    )
    assert fetched.json()["status"] == "withdrawn"
    assert (await decide(onboarding, application["id"], "approve")).status_code == 409


async def test_concurrent_first_applications_make_one(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    answers = await asyncio.gather(
        *(apply(onboarding, community["id"], "crm-1", GOOD) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["application"]["id"] for a in answers}) == 1
    assert len(await onboarding.events(SUBMITTED)) == 1


async def test_the_questionnaire_is_managed_by_operators(onboarding: Onboarding) -> None:
    community = await onboarding.community()
    url = f"{BASE}/communities/{community['id']}/application-form"
    assert (await onboarding.client.get(url, headers=onboarding.operator())).status_code == 404
    assert (
        await onboarding.client.put(url, json=FORM, headers=onboarding.member("m"))
    ).status_code == 403
    put = await onboarding.client.put(url, json=FORM, headers=onboarding.operator())
    assert put.status_code == 200, put.text
    got = await onboarding.client.get(url, headers=onboarding.operator())
    assert got.json()["rules"][0]["reason"] == "不接受广告"
    [updated] = await onboarding.events("quanzi.onboarding.community.updated.v1")
    assert updated.data["application_required"] is True
    typo = {
        **FORM,
        "rules": [
            {
                "decision": "approve",
                "conditions": [{"key": "city", "op": "equals", "values": ["Hangzhou"]}],
            }
        ],
    }
    for bad in (
        typo,
        {"fields": []},
        {"fields": [{"key": "a", "label": "A", "kind": "choice"}]},
        {"fields": [{"key": "Bad Key", "label": "A", "kind": "text"}]},
        {"fields": [{"key": "a", "label": "A", "kind": "text"}] * 2},
    ):
        refused = await onboarding.client.put(url, json=bad, headers=onboarding.operator())
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await onboarding.client.delete(url, headers=onboarding.operator())).status_code == 204
    joined = await onboarding.client.post(
        f"{BASE}/communities/{community['id']}/join", headers=onboarding.member("crm-1")
    )
    assert joined.status_code == 201  # no questionnaire: a direct join again
    no_form = await apply(onboarding, community["id"], "crm-2", GOOD)
    assert no_form.status_code == 409 and no_form.json()["type"].endswith("/no-application")


async def test_private_communities_take_applications_through_a_code(onboarding: Onboarding) -> None:
    community = await onboarding.community(
        visibility="private", application_form=FORM, groups=[{"name": "1群", "capacity": 1}]
    )
    other = await onboarding.community(slug="other-club", groups=[{"name": "g"}])
    groups = await onboarding.client.get(
        f"{BASE}/communities/{community['id']}/groups", headers=onboarding.operator()
    )
    other_groups = await onboarding.client.get(
        f"{BASE}/communities/{other['id']}/groups", headers=onboarding.operator()
    )
    for cid, code, group in (
        (community["id"], "poster", groups.json()["items"][0]["id"]),
        (other["id"], "elsewhere", other_groups.json()["items"][0]["id"]),
    ):
        created = await onboarding.client.post(
            f"{BASE}/routing-codes",
            headers=onboarding.operator(),
            json={
                "community_id": cid,
                "code": code,
                "group_ids": [group],
                "overflow_prefix": "o",
                "channel": "地铁",
            },
        )
        assert created.status_code == 201
    hidden = await apply(onboarding, community["id"], "crm-1", GOOD)
    assert hidden.status_code == 404
    wrong_code = await apply(onboarding, community["id"], "crm-1", GOOD, routing_code="elsewhere")
    assert wrong_code.status_code == 404
    applied = await apply(
        onboarding, community["id"], "crm-1", {**GOOD, "city": "杭州"}, routing_code="poster"
    )
    membership = applied.json()["membership"]
    assert (
        membership["status"] == "active"
        and membership["group_id"] == groups.json()["items"][0]["id"]
    )
    assert membership["source"] == {
        "kind": "routing_code",
        "code": "poster",
        "channel": "地铁",
        "inviter_id": None,
    }


async def test_another_tenants_applications_are_not_found(onboarding: Onboarding) -> None:
    community = await onboarding.community(application_form=FORM)
    application = (await apply(onboarding, community["id"], "crm-1", GOOD)).json()["application"]
    other = onboarding.operator(tenant="tenant-b")
    aid, cid = application["id"], community["id"]
    probes = [
        ("GET", f"{BASE}/applications/{aid}", other, None),
        ("POST", f"{BASE}/applications/{aid}/approve", other, {}),
        ("POST", f"{BASE}/applications/{aid}/reject", other, {"reason": "x"}),
        ("GET", f"{BASE}/communities/{cid}/application-form", other, None),
        ("PUT", f"{BASE}/communities/{cid}/application-form", other, FORM),
        ("DELETE", f"{BASE}/communities/{cid}/application-form", other, None),
        (
            "POST",
            f"{BASE}/communities/{cid}/applications",
            onboarding.member("crm-1", "tenant-b"),
            {"answers": GOOD},
        ),
    ]
    for method, url, headers, body in probes:
        answer = await onboarding.client.request(method, url, json=body, headers=headers)
        assert answer.status_code == 404, (method, url, answer.text)
    bulk = await onboarding.client.post(
        f"{BASE}/applications/review",
        json={"application_ids": [aid], "decision": "approve"},
        headers=other,
    )
    assert bulk.json()["results"][0]["status"] == 404
    listing = await onboarding.client.get(f"{BASE}/applications", headers=other)
    assert listing.json()["items"] == []
