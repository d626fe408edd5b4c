"""Member tokens: a tenant's server (an API key with ``members:write``) mints a short
token for one of its members, and the gateway publishes ``member.identified`` when the
profile it carries is news."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import events
from gateway.domain import apikeys, identified, roles
from gateway.identity.api_keys import KeyPrincipal
from gateway.security import IssuedToken, TokenIssuer
from gateway.settings import Settings
from servicekit.db import transaction
from servicekit.outbox import add_event
from servicekit.problems import Problem


@dataclass
class MemberTokens:
    sessions: async_sessionmaker[AsyncSession]
    issuer: TokenIssuer
    settings: Settings
    # Profiles published lately: a repeated mint with the same profile publishes nothing.
    identifications: identified.RecentIdentifications = field(init=False)

    def __post_init__(self) -> None:
        window = self.settings.member_identified_window_s
        self.identifications = identified.RecentIdentifications(window)

    async def mint(
        self, key: KeyPrincipal, *, external_id: str, profile: dict[str, Any]
    ) -> IssuedToken:
        if apikeys.Scope.MEMBERS_WRITE not in key.scopes:
            raise Problem(403, "missing-scope", "Missing scope", "the key needs members:write")
        print_ = identified.fingerprint(key.tenant_id, external_id, profile)
        if self.identifications.is_news(print_, time.monotonic()):
            async with transaction(self.sessions) as session:
                event = events.member_identified(key.tenant_id, external_id, profile)
                await add_event(session, event)
            self.identifications.published(print_, time.monotonic())
        return self.issuer.issue(
            subject=external_id,
            tenant_id=key.tenant_id,
            roles=[roles.MEMBER_ROLE],
            typ="member",
            ttl=timedelta(seconds=self.settings.member_token_ttl_s),
        )
