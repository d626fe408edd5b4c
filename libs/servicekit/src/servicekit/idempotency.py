"""``Idempotency-Key`` for POSTs with money-like effects, with Stripe's semantics.

- the same key and the same request replay the stored response;
- the same key with a different request is refused (422);
- concurrent duplicates produce one effect: the key's row is inserted in the
  effect's own transaction, so the loser of the race waits on the unique key
  (PostgreSQL) or on the write lock (SQLite), then replays the winner's answer;
- a request that fails with a problem stores nothing, so it may be retried;
- keys are scoped per tenant and expire after a configurable time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.db import transaction
from servicekit.problems import Problem
from servicekit.tables import idempotency_keys
from servicekit.types import utcnow

MAX_KEY_LENGTH = 255
# Printable ASCII (a structured-field string), no space at either end (HTTP strips them).
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Unique per intended effect; a retry with the same key gets the first answer.",
    ),
]

# Money-like POSTs (payments, refunds, point adjustments, redemptions) require one: a retry
# without a key would pay, refund or spend twice. Missing, it is a 400 problem
# `idempotency-key-required` (servicekit.problems), and the OpenAPI says it is required.
RequiredIdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Required. Unique per intended effect (e.g. the payment's id in your "
        "system); a retry with the same key gets the first answer, never a second effect.",
    ),
]
MISSING_KEY_SLUG = "idempotency-key-required"

Operation = Callable[[AsyncSession], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: Any
    replayed: bool

    def response(self) -> JSONResponse:
        headers = {REPLAYED_HEADER: "true"} if self.replayed else None
        return JSONResponse(self.body, status_code=self.status, headers=headers)


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_idempotent(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_id: str,
    key: str | None,
    request_hash: str,
    operation: Operation,
    ttl: timedelta = timedelta(hours=24),
) -> IdempotentResult:
    """Run ``operation`` in one transaction, at most once per (tenant, key)."""
    if key is None:
        async with transaction(sessions) as session:
            status, body = await operation(session)
        return IdempotentResult(status, body, replayed=False)
    _check_key(key)
    for attempt in (1, 2):
        try:
            async with transaction(sessions) as session:
                stored = await _stored(session, tenant_id, key)
                if stored is not None:
                    return _replay(stored, request_hash)
                await _claim(session, tenant_id, key, request_hash, ttl)
                status, body = await operation(session)
                await session.execute(
                    update(idempotency_keys)
                    .where(_row(tenant_id, key))
                    .values(response_status=status, response_body=json.dumps(body))
                )
            return IdempotentResult(status, body, replayed=False)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def answer_once(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_id: str,
    key: str | None,
    body: Any,
    operation: Operation,
    retryable: tuple[type[Exception], ...] = (),
) -> JSONResponse:
    """An endpoint's answer: ``operation`` run at most once per key, the request identified
    by its method, path and ``body``; an exception in ``retryable`` (a concurrent change
    that lost its race) is a 409 the client may simply send again."""
    try:
        result = await run_idempotent(
            sessions,
            tenant_id=tenant_id,
            key=key,
            request_hash=fingerprint(request.method, request.url.path, body),
            operation=operation,
        )
    except retryable as error:
        raise Problem(409, "conflict", "Concurrent change", "retry the request") from error
    return result.response()


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise Problem(
            400,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            f"the key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        )


def _row(tenant_id: str, key: str) -> Any:
    return and_(idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key)


async def _stored(session: AsyncSession, tenant_id: str, key: str) -> Any:
    now = utcnow()
    await session.execute(
        delete(idempotency_keys).where(_row(tenant_id, key), idempotency_keys.c.expires_at < now)
    )
    result = await session.execute(select(idempotency_keys).where(_row(tenant_id, key)))
    return result.mappings().first()


async def _claim(
    session: AsyncSession, tenant_id: str, key: str, request_hash: str, ttl: timedelta
) -> None:
    now = utcnow()
    await session.execute(
        idempotency_keys.insert().values(
            tenant_id=tenant_id,
            key=key,
            request_hash=request_hash,
            response_status=0,
            response_body="null",
            created_at=now,
            expires_at=now + ttl,
        )
    )


def _replay(stored: Any, request_hash: str) -> IdempotentResult:
    if stored["request_hash"] != request_hash:
        raise Problem(
            422,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this key was already used with a different request",
        )
    return IdempotentResult(
        stored["response_status"], json.loads(stored["response_body"]), replayed=True
    )
