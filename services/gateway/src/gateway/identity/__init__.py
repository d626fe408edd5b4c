"""The gateway's use cases, by subject, each one transaction; events through the outbox:
``tenants`` (the platform's admins), ``operators`` (invitations, roles, passwords),
``logins`` (sign-in and refresh tokens), ``api_keys`` and ``member_tokens``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.identity.api_keys import ApiKeys
from gateway.identity.logins import Logins
from gateway.identity.member_tokens import MemberTokens
from gateway.identity.operators import Operators
from gateway.identity.tenants import Tenants
from gateway.security import TokenIssuer
from gateway.settings import Settings


class Identity:
    """Every use case of the gateway's own API, over one pool and one token issuer."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], issuer: TokenIssuer, settings: Settings
    ) -> None:
        self.tenants = Tenants(sessions, settings)
        self.operators = Operators(sessions, settings)
        self.logins = Logins(sessions, issuer, settings)
        self.api_keys = ApiKeys(sessions)
        self.member_tokens = MemberTokens(sessions, issuer, settings)
