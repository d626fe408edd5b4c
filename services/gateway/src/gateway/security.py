"""Credentials: argon2id password hashes, opaque secrets, signed tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.keys import SigningKeys
from servicekit.types import utcnow

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("quanzi-timing-equalizer")
MIN_PASSWORD_LENGTH = 10


async def hash_password(password: str) -> str:
    # Hashing costs tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    """For high-entropy secrets (tokens, API keys) a fast hash is enough: no guessing."""
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class TokenIssuer:
    """Signs the JWTs every service verifies (EdDSA, ``kid`` of the current key)."""

    def __init__(self, keys: SigningKeys, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience

    def issue(
        self,
        *,
        subject: str,
        tenant_id: str,
        roles: list[str],
        typ: str,
        ttl: timedelta,
        extra: dict[str, Any] | None = None,
    ) -> IssuedToken:
        now = utcnow()
        expires_at = now + ttl
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "tenant_id": tenant_id,
            "roles": sorted(roles),
            "typ": typ,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": uuid.uuid4().hex,
            **(extra or {}),
        }
        token = jwt.encode(
            claims, self._keys.current, algorithm="EdDSA", headers={"kid": self._keys.current_kid}
        )
        return IssuedToken(token, expires_at)
