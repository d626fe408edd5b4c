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

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from quanzi_devstack.run import Platform

if TYPE_CHECKING:
    from conftest import Tenant

MAX_EXAMPLES = 6
OB = "/v1/onboarding"


@pytest.fixture
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


def _credentials(tenant: Tenant, caller: str) -> dict[str, str]:
    if caller == "api_key":
        return {"X-Api-Key": tenant.api_key}
    token = tenant.owner_token if caller == "owner" else tenant.member_token
    return {"Authorization": f"Bearer {token}"}


def _as_a_client_would(case: Any) -> None:
    """The adjustments, each for a reason the document cannot express.

    - ``cursor`` is opaque: only a `next_cursor` the server issued is meaningful, so a
      generated one is a 400 ``invalid-cursor`` even when it is a schema-valid string. Valid
      requests leave it out (the first page), as a client does; invalid ones keep it.
    - Logging out with a generated refresh token, or confirming a generated reset token,
      cannot reach a real sign-in: the 401 answers are the documented ones and checked.
    """
    if case.meta is not None and case.meta.generation.mode.is_positive and case.query:
        case.query.pop("cursor", None)


@pytest.mark.parametrize("caller", ["owner", "member", "api_key"])
def test_every_operation_conforms_to_the_merged_document(
    platform: Platform, fuzzed: Tenant, caller: str
) -> None:
    schema = schemathesis.openapi.from_url(platform.gateway_url + "/openapi.json")
    assert schema.raw_schema["info"]["x-missing-services"] == []
    headers = _credentials(fuzzed, caller)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                _as_a_client_would(case)
                # No `checks=`: every check schemathesis has, as configured by default.
                case.call_and_validate(base_url=platform.gateway_url, headers=headers)

            try:
                call()
            except (Exception, FailureGroup) as error:  # all of them: one run shows every one
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)
