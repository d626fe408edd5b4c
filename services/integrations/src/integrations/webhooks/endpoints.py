"""Webhook endpoints: a tenant's URLs (checked against the policy: https, no private
addresses), the event patterns each subscribes to, and their signing secrets (rotated with an
overlap)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.settings import Settings
from integrations.webhooks import domain
from integrations.webhooks.repository import EndpointRepository
from servicekit.auth import Principal
from servicekit.problems import Problem, not_found

Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Policy:
    allow_http: bool
    allow_private: bool
    timeout: timedelta
    rotation_overlap: timedelta
    disable_after: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            allow_http=settings.webhooks_allow_http,
            allow_private=settings.webhooks_allow_private,
            timeout=timedelta(seconds=settings.webhooks_timeout_s),
            rotation_overlap=timedelta(hours=settings.webhooks_rotation_overlap_hours),
            disable_after=timedelta(days=settings.webhooks_disable_after_days),
        )


def invalid(detail: str) -> Problem:
    return Problem(422, "invalid-endpoint", "Invalid endpoint", detail)


async def check_url(url: str, policy: Policy, resolve: Resolver) -> None:
    """Refuse a URL that is not https (http in development) or that names or resolves to an
    address a delivery may not reach. A name that does not resolve now is accepted: every
    delivery checks again."""
    try:
        target = domain.target(url, allow_http=policy.allow_http)
    except domain.InvalidEndpoint as error:
        raise invalid(str(error)) from None
    if policy.allow_private:
        return
    reason = domain.refused_host(target.host)
    if reason is None and not target.literal:
        _, reason = domain.first_allowed(await resolve(target.host, target.port))
    if reason is not None:
        raise Problem(
            422,
            "endpoint-address-refused",
            "Endpoint address refused",
            f"the URL leads to a {reason.value} address, which webhooks never call",
        )


def check_patterns(patterns: Sequence[str]) -> list[str]:
    bad = [p for p in patterns if not domain.valid_pattern(p)]
    if bad:
        raise invalid(f"not an event type pattern: {bad[0]!r} (e.g. membership.* or *)")
    return sorted(set(patterns))


@dataclass(frozen=True)
class Draft:
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    rate_limit_per_s: float | None = None


async def create(
    session: AsyncSession,
    principal: Principal,
    draft: Draft,
    now: datetime,
    policy: Policy,
    resolve: Resolver,
) -> Any:
    await check_url(draft.url, policy, resolve)
    endpoint_id = "ep_" + uuid.uuid4().hex
    repo = EndpointRepository(session)
    await repo.add(
        {
            "id": endpoint_id,
            "tenant_id": principal.tenant_id,
            "url": draft.url,
            "description": draft.description,
            "event_types": check_patterns(draft.event_types),
            "enabled": draft.enabled,
            "disabled_reason": None if draft.enabled else "by an operator",
            "secret": domain.new_secret(),
            "previous_secret": None,
            "previous_secret_until": None,
            "failing_since": None,
            "rate_limit_per_s": draft.rate_limit_per_s,
            "next_send_at": None,
            "created_by": principal.subject,
            "created_at": now,
            "updated_at": now,
        }
    )
    return await repo.get(principal.tenant_id, endpoint_id)


async def endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, *, lock: bool = False
) -> Any:
    row = await EndpointRepository(session).get(principal.tenant_id, endpoint_id, lock=lock)
    if row is None:
        raise not_found("endpoint")
    return row


async def endpoints_page(
    session: AsyncSession, principal: Principal, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    return await EndpointRepository(session).page(principal.tenant_id, after, limit)


async def update(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    changes: dict[str, Any],
    now: datetime,
    policy: Policy,
    resolve: Resolver,
) -> Any:
    row = await endpoint(session, principal, endpoint_id, lock=True)
    values: dict[str, Any] = {"updated_at": now}
    if "url" in changes:
        await check_url(changes["url"], policy, resolve)
        values["url"] = changes["url"]
    if "description" in changes:
        values["description"] = changes["description"]
    if "event_types" in changes:
        values["event_types"] = check_patterns(changes["event_types"])
    if "rate_limit_per_s" in changes:  # null: no limit from now on
        values["rate_limit_per_s"] = changes["rate_limit_per_s"]
    if "enabled" in changes and changes["enabled"] != row.enabled:
        values["enabled"] = changes["enabled"]
        # Enabled again: a fresh start (its failures no longer count toward disabling it).
        values["disabled_reason"] = None if changes["enabled"] else "by an operator"
        values["failing_since"] = None
    repo = EndpointRepository(session)
    await repo.update(principal.tenant_id, endpoint_id, **values)
    return await repo.get(principal.tenant_id, endpoint_id)


async def delete(session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """The endpoint, its messages and their log; their timers find nothing and stop."""
    await endpoint(session, principal, endpoint_id, lock=True)
    await EndpointRepository(session).delete(principal.tenant_id, endpoint_id)


async def rotate(
    session: AsyncSession, principal: Principal, endpoint_id: str, now: datetime, policy: Policy
) -> Any:
    """A new secret signs from now on; the old one also signs during the overlap."""
    row = await endpoint(session, principal, endpoint_id, lock=True)
    repo = EndpointRepository(session)
    await repo.update(
        principal.tenant_id,
        endpoint_id,
        secret=domain.new_secret(),
        previous_secret=row.secret,
        previous_secret_until=now + policy.rotation_overlap,
        updated_at=now,
    )
    return await repo.get(principal.tenant_id, endpoint_id)
