"""``GET /v1/me``: a member's profile, memberships and points in one answer.

The parts come from different services, asked concurrently. A part whose service
fails, is slow, or answers non-2xx is null and named in ``missing`` with the
reason: the member still gets the rest, never a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gateway.engines import ConnectFailed, TransportFailed
from gateway.proxy import Proxy
from servicekit import tracing
from servicekit.auth import CurrentPrincipal
from servicekit.problems import Problem, problem_responses

log = logging.getLogger(__name__)

# (part, upstream path): the route table says which service owns each path.
PARTS = (
    ("profile", "/v1/onboarding/me/profile"),
    ("memberships", "/v1/onboarding/me/memberships"),
    ("points", "/v1/rewards/me/summary"),
)
PART_TIMEOUT_S = 3.0  # at most; a shorter route timeout wins

router = APIRouter(tags=["gateway"])


class MissingPart(BaseModel):
    part: str
    reason: str  # timeout, unreachable, upstream-unavailable, no-route, status <n>, invalid-json


class Me(BaseModel):
    profile: Any | None = None
    memberships: Any | None = None
    points: Any | None = None
    missing: list[MissingPart] = []


@router.get(
    "/v1/me",
    summary="The calling member: profile, memberships and points",
    description="Parts whose service did not answer are null and listed in `missing`.",
    responses=problem_responses({401: "No valid token", 403: "Not a member"}),
)
async def me(request: Request, principal: CurrentPrincipal) -> Me:
    if principal.token_type != "member":
        raise Problem(403, "forbidden", "Forbidden", "/v1/me answers member tokens only")
    proxy: Proxy = request.app.state.proxy
    headers = _headers(request)
    answers = await asyncio.gather(*(_part(proxy, path, headers) for _, path in PARTS))
    result = Me()
    for (part, _), (value, reason) in zip(PARTS, answers, strict=True):
        if reason is None:
            setattr(result, part, value)
        else:
            result.missing.append(MissingPart(part=part, reason=reason))
    return result


def _headers(request: Request) -> list[tuple[str, str]]:
    headers = [("accept", "application/json"), ("authorization", request.headers["authorization"])]
    request_id, traceparent = tracing.current_request_id.get(), tracing.current_traceparent.get()
    if request_id:
        headers.append(("x-request-id", request_id))
    if traceparent:
        headers.append(("traceparent", traceparent))
    return headers


async def _part(proxy: Proxy, path: str, headers: list[tuple[str, str]]) -> tuple[Any, str | None]:
    """(the part's JSON, None) or (None, why it is missing)."""
    target = proxy.table.resolve(path)
    if target is None:
        return None, "no-route"
    timeout = min(proxy.timeouts.resolve(path), PART_TIMEOUT_S)
    try:
        status, body = await proxy.fetch(target[0], path, headers, timeout)
    except TimeoutError:
        return None, "timeout"
    except (ConnectFailed, TransportFailed):
        return None, "unreachable"
    except Problem as problem:  # the upstream's circuit is open
        return None, problem.slug
    except Exception:  # a part must never turn the whole answer into a 500
        log.exception("unexpected error fetching %s", path)
        return None, "error"
    if not 200 <= status < 300:
        return None, f"status {status}"
    try:
        return json.loads(body), None
    except ValueError:
        return None, "invalid-json"
