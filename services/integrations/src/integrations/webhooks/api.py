"""Webhook endpoints (owners and admins), their secrets, delivery log, redelivery and test
events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from integrations.access import Config, Manager, Now, Sessions
from integrations.webhooks import domain, endpoints, messages
from integrations.webhooks.delivery import resolve
from servicekit.db import read_only, transaction
from servicekit.pagination import (
    Cursor,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
    keyset_after,
    page_of,
)
from servicekit.problems import Problem, problem_responses
from servicekit.text import Body, Line, Text
from servicekit.types import null_refused

router = APIRouter(prefix="/v1/integrations/webhooks", tags=["integrations: webhooks"])

EndpointId = Annotated[Line, Path(max_length=40)]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]
Url = Annotated[
    Line, Field(min_length=1, max_length=2000, description="https (http only in development)")
]
Description = Annotated[Text, Field(max_length=500)]
Pattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=domain.PATTERN,
        description="An event type (`membership.activated`), a prefix (`membership.*`) or `*`",
    ),
]
Patterns = Annotated[list[Pattern], Field(min_length=1, max_length=domain.MAX_PATTERNS)]
RateLimit = Annotated[
    float,
    Field(
        gt=0,
        le=domain.MAX_RATE_PER_S,
        description="At most this many attempts start per second to this endpoint",
    ),
]
Status = Literal["pending", "waiting", "sending", "delivered", "failed"]
NOT_FOUND = problem_responses({404: "No such endpoint for this tenant"})
REFUSED = problem_responses(
    {422: "Not https (outside development), a private or local address, or bad patterns"}
)


class EndpointIn(Body):
    url: Url
    description: Description = ""
    event_types: Patterns = Field(default_factory=lambda: ["*"])
    enabled: bool = True
    rate_limit_per_s: RateLimit | None = Field(None, description="null: no limit")


class EndpointPatch(Body):
    """The fields given change; none may be null but the rate limit (null: no limit)."""

    model_config = ConfigDict(json_schema_extra=null_refused(all_but=("rate_limit_per_s",)))

    url: Url | None = None
    description: Description | None = None
    event_types: Patterns | None = None
    enabled: bool | None = None
    rate_limit_per_s: RateLimit | None = None

    @model_validator(mode="after")
    def _no_null(self) -> EndpointPatch:
        nullable = {"rate_limit_per_s"}
        nulls = [n for n in self.model_fields_set if getattr(self, n) is None and n not in nullable]
        if nulls:
            raise ValueError(f"cannot be null: {', '.join(sorted(nulls))}")
        return self


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    rate_limit_per_s: float | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> EndpointOut:
        return cls.model_validate(dict(row._mapping))


class CreatedEndpoint(EndpointOut):
    secret: str = Field(description="`whsec_…`: verifies the signatures (also GET …/secret)")


class SecretOut(BaseModel):
    secret: str
    previous_secret_valid_until: datetime | None = Field(
        description="Until then the previous secret also signs (a rotation's overlap)"
    )


class DeliveryOut(BaseModel):
    id: int
    message_id: str = Field(description="The `webhook-id` header: the same on every attempt")
    event_type: str
    status: Status
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> DeliveryOut:
        return cls.model_validate(dict(row._mapping))


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    latency_ms: int
    response_excerpt: str


class DeliveryDetail(DeliveryOut):
    body: str
    attempts_log: list[AttemptOut]


class RecoverIn(Body):
    since: AwareDatetime = Field(description="Failed messages made since then are sent again")


class Recovered(BaseModel):
    count: int = Field(description=f"Messages sent again (at most {messages.RECOVER_LIMIT} a call)")


def _secret(row: Any, now: datetime) -> SecretOut:
    until = row.previous_secret_until
    return SecretOut(
        secret=row.secret,
        previous_secret_valid_until=until if until is not None and until > now else None,
    )


@router.post(
    "/endpoints",
    status_code=201,
    summary="Register an endpoint (its signing secret is in the answer)",
    responses=REFUSED,
)
async def create_endpoint(
    body: EndpointIn, sessions: Sessions, principal: Manager, now: Now, settings: Config
) -> CreatedEndpoint:
    draft = endpoints.Draft(
        body.url, body.description, body.event_types, body.enabled, body.rate_limit_per_s
    )
    policy = endpoints.Policy.of(settings)
    async with transaction(sessions) as session:
        row = await endpoints.create(session, principal, draft, now, policy, resolve)
    return CreatedEndpoint(**EndpointOut.of(row).model_dump(), secret=row.secret)


@router.get("/endpoints", summary="The tenant's endpoints")
async def list_endpoints(
    sessions: Sessions, principal: Manager, cursor: Cursor = None, limit: Limit = 50
) -> Page[EndpointOut]:
    after = keyset_after(cursor)
    async with read_only(sessions) as session:
        rows = await endpoints.endpoints_page(session, principal, after, limit)
    return page_of([EndpointOut.of(r) for r in rows], limit, EndpointOut)


@router.get("/endpoints/{endpoint_id}", summary="One endpoint", responses=NOT_FOUND)
async def get_endpoint(
    endpoint_id: EndpointId, sessions: Sessions, principal: Manager
) -> EndpointOut:
    async with read_only(sessions) as session:
        row = await endpoints.endpoint(session, principal, endpoint_id)
    return EndpointOut.of(row)


@router.patch(
    "/endpoints/{endpoint_id}",
    summary="Change an endpoint (enable again a disabled one)",
    responses={**NOT_FOUND, **REFUSED},
)
async def update_endpoint(
    endpoint_id: EndpointId,
    body: EndpointPatch,
    sessions: Sessions,
    principal: Manager,
    now: Now,
    settings: Config,
) -> EndpointOut:
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    policy = endpoints.Policy.of(settings)
    async with transaction(sessions) as session:
        row = await endpoints.update(session, principal, endpoint_id, changes, now, policy, resolve)
    return EndpointOut.of(row)


@router.delete(
    "/endpoints/{endpoint_id}",
    status_code=204,
    summary="Delete an endpoint, its messages and their log",
    responses=NOT_FOUND,
)
async def delete_endpoint(endpoint_id: EndpointId, sessions: Sessions, principal: Manager) -> None:
    async with transaction(sessions) as session:
        await endpoints.delete(session, principal, endpoint_id)


@router.get("/endpoints/{endpoint_id}/secret", summary="The signing secret", responses=NOT_FOUND)
async def get_secret(
    endpoint_id: EndpointId, sessions: Sessions, principal: Manager, now: Now
) -> SecretOut:
    async with read_only(sessions) as session:
        row = await endpoints.endpoint(session, principal, endpoint_id)
    return _secret(row, now)


@router.post(
    "/endpoints/{endpoint_id}/secret/rotate",
    summary="A new signing secret; the previous one also signs during the overlap",
    responses=NOT_FOUND,
)
async def rotate_secret(
    endpoint_id: EndpointId, sessions: Sessions, principal: Manager, now: Now, settings: Config
) -> SecretOut:
    async with transaction(sessions) as session:
        row = await endpoints.rotate(
            session, principal, endpoint_id, now, endpoints.Policy.of(settings)
        )
    return _secret(row, now)


@router.post(
    "/endpoints/{endpoint_id}/test",
    status_code=202,
    summary="Send a `webhook.test` message now",
    responses=NOT_FOUND,
)
async def send_test(
    endpoint_id: EndpointId, sessions: Sessions, principal: Manager, now: Now
) -> DeliveryOut:
    async with transaction(sessions) as session:
        row = await messages.send_test(session, principal, endpoint_id, now)
    return DeliveryOut.of(row)


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    summary="The endpoint's messages, newest first",
    responses=NOT_FOUND,
)
async def list_deliveries(
    endpoint_id: EndpointId,
    sessions: Sessions,
    principal: Manager,
    status: Annotated[Status | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DeliveryOut]:
    values = decode_cursor(cursor, 1)
    before = None
    if values is not None:
        if not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] < 1:
            raise invalid_cursor()
        before = values[0]
    async with read_only(sessions) as session:
        rows = await messages.deliveries_page(
            session, principal, endpoint_id, before, limit, status
        )
    items = [DeliveryOut.of(row) for row in rows[:limit]]
    more = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return Page[DeliveryOut](items=items, next_cursor=more)


@router.get(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}",
    summary="One message: its body and every attempt (status, latency, the answer's start)",
    responses=problem_responses({404: "No such endpoint or message for this tenant"}),
)
async def get_delivery(
    endpoint_id: EndpointId, delivery_id: DeliveryId, sessions: Sessions, principal: Manager
) -> DeliveryDetail:
    async with read_only(sessions) as session:
        row = await messages.delivery(session, principal, endpoint_id, delivery_id)
        attempts = await messages.attempts_of(session, row.id)
    return DeliveryDetail(
        **DeliveryOut.of(row).model_dump(),
        body=row.body,
        attempts_log=[AttemptOut.model_validate(dict(a._mapping)) for a in attempts],
    )


@router.post(
    "/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a finished message again (same webhook-id, a fresh retry schedule)",
    responses=problem_responses(
        {404: "No such endpoint or message for this tenant", 409: "Not finished yet"}
    ),
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
    sessions: Sessions,
    principal: Manager,
    now: Now,
) -> DeliveryOut:
    async with transaction(sessions) as session:
        row = await messages.redeliver(session, principal, endpoint_id, delivery_id, now)
    return DeliveryOut.of(row)


@router.post(
    "/endpoints/{endpoint_id}/recover",
    status_code=202,
    summary="Send again every failed message made since a time",
    responses=NOT_FOUND,
)
async def recover(
    endpoint_id: EndpointId, body: RecoverIn, sessions: Sessions, principal: Manager, now: Now
) -> Recovered:
    try:
        since = body.since.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: not a time anything was made at
        raise Problem(422, "invalid-since", "Invalid since", "not a representable time") from None
    async with transaction(sessions) as session:
        count = await messages.recover(session, principal, endpoint_id, since, now)
    return Recovered(count=count)
