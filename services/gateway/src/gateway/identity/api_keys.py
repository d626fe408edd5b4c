"""API keys for a tenant's servers (``qzk_<prefix>_<secret>``, stored hashed, scoped):
created and revoked by managers, checked on every request with no cache."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import events
from gateway.domain import apikeys
from gateway.orm import ApiKey
from gateway.repository import Repository
from gateway.security import new_secret, same_secret, sha256_hex
from servicekit.auth import Principal
from servicekit.db import transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem, not_found
from servicekit.types import utcnow

B32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    raw: str


@dataclass(frozen=True)
class KeyPrincipal:
    tenant_id: str
    key_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ApiKeys:
    sessions: async_sessionmaker[AsyncSession]

    async def create(self, manager: Principal, *, name: str, scopes: list[str]) -> CreatedKey:
        unknown = apikeys.unknown_scopes(frozenset(scopes))
        if unknown or not scopes:
            raise Problem(
                422,
                "unknown-scope",
                "Unknown scope",
                f"scopes: {', '.join(sorted(apikeys.ALL_SCOPES))}",
            )
        prefix = "".join(secrets.choice(B32) for _ in range(8))
        raw = apikeys.format_key(prefix, new_secret(32))
        key = ApiKey(
            id=str(uuid.uuid4()),
            tenant_id=manager.tenant_id,
            name=name,
            prefix=prefix,
            key_hash=sha256_hex(raw),
            scopes=sorted(set(scopes)),
            created_by=manager.subject,
            created_at=utcnow(),
            last_used_at=None,
            revoked_at=None,
        )
        async with transaction(self.sessions) as session:
            Repository(session).add(key)
            await add_event(
                session,
                events.api_key_created(
                    key.tenant_id, key.id, prefix, name, key.scopes, manager.subject
                ),
            )
        return CreatedKey(key, raw)

    async def page(
        self, tenant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[ApiKey]:
        async with transaction(self.sessions) as session:
            return list(
                await Repository(session).api_keys_page(tenant_id, after=after, limit=limit)
            )

    async def revoke(self, manager: Principal, key_id: str) -> ApiKey:
        async with transaction(self.sessions) as session:
            key = await Repository(session).api_key(manager.tenant_id, key_id)
            if key is None:
                raise not_found("API key")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                await add_event(
                    session,
                    events.api_key_revoked(key.tenant_id, key.id, key.prefix, manager.subject),
                )
        return key

    async def authenticate(self, raw: str) -> KeyPrincipal:
        """No cache: a revoked key must stop working at once, on every instance."""
        parsed = apikeys.parse_key(raw)
        async with transaction(self.sessions) as session:
            repo = Repository(session)
            key = await repo.api_key_by_prefix(parsed.prefix) if parsed else None
            if (
                key is None
                or key.revoked_at is not None
                or not same_secret(sha256_hex(raw.strip()), key.key_hash)
            ):
                raise Problem(
                    401, "invalid-api-key", "Invalid API key", "the API key is unknown or revoked"
                )
            now = utcnow()
            if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
                await repo.touch_api_key(key.id, now)  # at most one write a minute per key
        return KeyPrincipal(key.tenant_id, key.id, frozenset(key.scopes))
