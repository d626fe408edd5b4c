"""The merged OpenAPI tells the truth: schemathesis, every check, for each kind of caller.

The document the gateway serves is loaded as a client would, and every operation is
called with generated requests, valid and invalid, as an owner (operator token), a member
(member token) and the company's backend (API key). Every check schemathesis has runs on
each answer: no 5xx, only documented statuses, content types and schemas, valid input
accepted, invalid input refused, protected routes refusing missing credentials.

Where a check cannot hold for a reason the document cannot express, the test adjusts the
generated request, never the check; each adjustment says why (see ``_as_a_client_would``).
Generation is derandomized with a bounded number of examples per operation, so a run is
the same every time and takes a couple of minutes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData

from quanzi_devstack.run import SERVICES, Platform

if TYPE_CHECKING:
    from conftest import Tenant

# Examples per operation and generation mode. The owner may call every operation, so its
# requests reach the deepest code; a member and an API key are refused most operator
# routes at the gateway or the service's first check, where fewer examples find as much.
MAX_EXAMPLES = {"owner": 6, "member": 3, "api_key": 3}
OB = "/v1/onboarding"

# Rules that tie several fields (or parameters) together, or read inside a value, that the
# operation states in words and its validator enforces, but that its JSON Schema does not
# express: a generated request may be schema-valid and still break one. For these
# operations only, and only as a 422 problem, "schema-valid input rejected" is the rule
# doing its job; every other check still runs on the answer.
RULES_BEYOND_THE_SCHEMA = {
    "POST /v1/onboarding/communities": "paid terms come together (price, currency, term)",
    "PATCH /v1/onboarding/communities/{community_id}": "paid terms stay consistent",
    "POST /v1/onboarding/applications/review": "a rejection gives a reason; each id once",
    "POST /v1/onboarding/communities/{community_id}/roles": "group_id for regional_leader only",
    "PUT /v1/onboarding/communities/{community_id}/welcome": "the template's placeholders",
    "PUT /v1/onboarding/communities/{community_id}/moderation-ladder": "mutes have durations",
    "PUT /v1/onboarding/communities/{community_id}/application-form": "rules name its fields",
    "POST /v1/onboarding/reports/{report_id}/resolve": "an actioned report names a sanction",
    "POST /v1/rewards/badge-rules": "level rules have no event type, the others need one",
    "POST /v1/rewards/rules": "a condition's value fits its operator; decimals fit 8 digits",
    "PUT /v1/rewards/rules/{rule_id}": "a condition's value fits its operator; 8 digits",
    "PUT /v1/rewards/levels": "levels start at 0 points and rise",
    "GET /v1/rewards/reports/points": "`from` is not after `to`",
    "GET /v1/rewards/leaderboard": "a period's bounds are consistent",
    "GET /v1/rewards/adjustments": "`since` is before `until`",
    "GET /v1/onboarding/audit": "`since` is before `until`",
    "POST /v1/onboarding/communities/{community_id}/sanctions": "a mute has a duration",
    "POST /v1/content/posts": "an audience is tenant-wide or names communities, not both",
    "POST /v1/content/schedules": "the post's audience: tenant-wide or communities",
    "POST /v1/content/recurring": "the post's audience: tenant-wide or communities",
    "POST /v1/content/moderation/rules": "a keyword has a visible character; a link a domain",
    "POST /v1/activities/challenges": "window times are wall-clock (no offset), dates ordered",
    "GET /v1/activities/challenges/{challenge_id}/calendar": "an operator names member_id",
    "POST /v1/activities/questions": "a choice question has 2 to 10 options",
    "POST /v1/activities/quizzes": "a quiz opens before it closes",
    "POST /v1/activities/polls": "options differ and fit the poll's kind; closes ahead",
    "PUT /v1/activities/polls/{poll_id}/vote": "the answer fits the poll's kind",
    "POST /v1/activities/draws": "a prize's points and item fit its kind; closes ahead",
    "POST /v1/activities/drops": "the total gives every share its minimum",
    "POST /v1/activities/contests": "each award gives points, a badge or a title",
    "GET /v1/content/search": "the query has a letter or digit, its words within the limit",
    **{
        f"GET /v1/insights/{report}": "`from` is not after `to`; at most 366 days, 2000 to 2199"
        for report in ("series", "cohorts", "channels", "reactivation")
    },
    "POST /v1/activities/meetups": "the windows are ordered (opens < closes <= starts < ends)",
    "POST /v1/activities/meetups/{meetup_id}/registrations": "answers fit the meetup's form",
    "POST /v1/activities/meetups/{meetup_id}/checkins": "the code is one this meetup signed",
    "POST /v1/activities/referrals": "tiers rise strictly; the period starts before it ends",
    "POST /v1/activities/talks": "a talk starts before it ends; guests differ",
    "POST /v1/activities/talks/{talk_id}/schedule": "a talk starts before it ends",
    "PUT /v1/activities/talks/{talk_id}/attendance": "no more minutes than the talk lasts",
    "POST /v1/rewards/budget/fundings": "a reason is not blank once trimmed",
    "POST /v1/integrations/webhooks/endpoints": "the URL is http(s) with a host, public outside "
    "development",
    "PATCH /v1/integrations/webhooks/endpoints/{endpoint_id}": "the URL, as when it was saved",
    "PUT /v1/integrations/crm/mapping": "two fields never map to one target, none to the id",
    "PUT /v1/integrations/crm/contacts/{external_id}": "each value fits the member field the "
    "tenant's mapping sends it to (a name is text, tags a list, a profile value flat)",
}


@pytest.fixture(scope="module")
def fuzzed(platform: Platform, make_tenant: Callable[..., Tenant]) -> Tenant:
    """A tenant of its own (enterprise limits: the fuzzer is one fast client) with a
    community, groups and a routing code, so that lists have something to describe."""
    tenant = make_tenant(f"oas-{uuid.uuid4().hex[:8]}", plan="enterprise")
    owner = {"Authorization": f"Bearer {tenant.owner_token}"}
    with httpx.Client(base_url=platform.gateway_url, headers=owner, timeout=10) as client:
        community = client.post(
            f"{OB}/communities",
            json={"slug": "fuzz-club", "name": "读书会", "groups": [{"name": "1群"}]},
        )
        assert community.status_code == 201, community.text
        groups = client.get(f"{OB}/communities/{community.json()['id']}/groups").json()
        code = client.post(
            f"{OB}/routing-codes",
            json={
                "community_id": community.json()["id"],
                "code": "poster",
                "group_ids": [g["id"] for g in groups["items"]],
                "overflow_prefix": "溢出",
            },
        )
        assert code.status_code == 201, code.text
    return tenant


def _until_every_service_documented(platform: Platform, timeout_s: float = 60.0) -> None:
    """A service builds its document on the first request; on a busy machine that can take
    longer than the gateway waits (3 s), and the gateway retries a document with a missing
    service after 5 s: ask until every service is in it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = httpx.get(platform.gateway_url + "/openapi.json", timeout=30).json()
        if doc["info"]["x-missing-services"] == []:
            return
        time.sleep(1)


@pytest.fixture(scope="module")
def merged(platform: Platform) -> Any:
    """The gateway's merged document, read once for the module's tests."""
    _until_every_service_documented(platform)
    schema = schemathesis.openapi.from_url(platform.gateway_url + "/openapi.json")
    assert schema.raw_schema["info"]["x-missing-services"] == []
    return schema


def _credentials(tenant: Tenant, caller: str) -> dict[str, str]:
    if caller == "api_key":
        return {"X-Api-Key": tenant.api_key}
    token = tenant.owner_token if caller == "owner" else tenant.member_token
    return {"Authorization": f"Bearer {token}"}


def _as_a_client_would(case: Any) -> None:
    """The adjustments, each for a reason the document cannot express.

    ``cursor`` (and the event feed's ``after``) is opaque: only a `next_cursor` the server
    issued is meaningful, so a
    generated one is a 400 ``invalid-cursor`` even when it is a schema-valid string. Valid
    requests leave it out (the first page), as a client does; invalid ones keep it.
    (Generated tokens, passwords and ids need nothing: their 401/404 are documented.)
    """
    if case.meta is not None and case.meta.generation.mode.is_positive and case.query:
        case.query.pop("cursor", None)
        case.query.pop("after", None)  # the event feed's cursor, as opaque


def _a_rule_beyond_the_schema(label: str, group: FailureGroup) -> bool:
    return label in RULES_BEYOND_THE_SCHEMA and all(
        isinstance(failure, RejectedPositiveData) and failure.status_code == 422
        for failure in group.exceptions
    )


def _owner(path: str) -> str:
    """The service a path belongs to ("gateway": the gateway's own paths)."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "v1" and parts[2] in SERVICES else "gateway"


# One test per caller and service: each stays well inside the per-test timeout on a busy
# machine, and a failure names the service.
@pytest.mark.parametrize("service", ["gateway", *SERVICES])
@pytest.mark.parametrize("caller", ["owner", "member", "api_key"])
def test_every_operation_conforms_to_the_merged_document(
    platform: Platform, merged: Any, fuzzed: Tenant, caller: str, service: str
) -> None:
    schema = merged
    headers = _credentials(fuzzed, caller)
    every = [result.ok() for result in schema.get_all_operations()]
    assert len(every) > 100
    operations = [op for op in every if _owner(op.path) == service]
    assert operations, f"no operation of {service} in the merged document"
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, platform.gateway_url, headers, MAX_EXAMPLES[caller])
            except (Exception, FailureGroup) as error:  # all of them: one run shows every one
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)


def _fuzz(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], examples: int
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        _as_a_client_would(case)
        try:
            # No `checks=`: every check schemathesis has, as configured by default.
            case.call_and_validate(base_url=base_url, headers=headers)
        except FailureGroup as group:
            if not _a_rule_beyond_the_schema(operation.label, group):
                raise

    call()


def test_the_merged_document_states_errors_security_and_lists(
    platform: Platform, fuzzed: Tenant
) -> None:
    doc = httpx.get(platform.gateway_url + "/openapi.json").json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    assert "HTTPValidationError" not in str(doc)
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status"}
    assert "title" in schemas["Problem"]["properties"]
    for path, item in paths.items():
        for operation in item.values():
            for code, answer in operation["responses"].items():
                if int(code) >= 400:
                    assert set(answer["content"]) == {"application/problem+json"}, (path, code)
    for path in ("/v1/operators", "/v1/operators/{operator_id}", "/v1/api-keys"):
        for operation in paths[path].values():
            assert operation["security"] == [{"bearerAuth": []}], path
    reset = paths["/v1/auth/password-reset"]["post"]["responses"]["202"]
    assert "application/json" in reset["content"]
    groups = paths["/v1/onboarding/communities/{community_id}/groups"]["get"]["responses"]["200"]
    page = groups["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schemas[page]["properties"]) == {"items", "next_cursor"}
    # Routing codes are listed for a read-scoped API key, through the gateway.
    codes = httpx.get(
        platform.gateway_url + "/v1/onboarding/routing-codes",
        headers={"X-Api-Key": fuzzed.api_key},
    )
    assert codes.status_code == 200, codes.text
    assert [c["code"] for c in codes.json()["items"]] == ["poster"]
