"""Test helpers: databases created and dropped per run, token minting, the dev broker."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import jwt
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.contracts import Registry
from servicekit.devbroker import DevBroker, free_port
from servicekit.events import Event, decode
from servicekit.tables import outbox

__all__ = [
    "DevBroker",
    "TokenMint",
    "contracts",
    "free_port",
    "fresh_database",
    "outbox_events",
    "postgres_admin_dsn",
    "publish_checked",
    "until",
]

T = TypeVar("T")

ENV_TEST_POSTGRES = "QUANZI_TEST_POSTGRES_DSN"


def postgres_admin_dsn() -> str:
    return os.environ.get(ENV_TEST_POSTGRES, "postgresql://postgres@127.0.0.1:5432/postgres")


async def postgres_available() -> bool:
    try:
        connection = await asyncpg.connect(postgres_admin_dsn(), timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


@asynccontextmanager
async def fresh_database(backend: str, workdir: Path) -> AsyncIterator[str]:
    """A new, empty database for ``backend`` ("sqlite" or "postgres"), dropped afterwards."""
    name = f"quanzi_test_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        yield f"sqlite+aiosqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240
        return
    admin = await asyncpg.connect(postgres_admin_dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = postgres_admin_dsn().rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(postgres_admin_dsn())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


class TokenMint:
    """Signs tokens the way the gateway does (EdDSA), for tests of token verification."""

    def __init__(
        self,
        *,
        issuer: str = "quanzi-gateway",
        audience: str = "quanzi",
        private_key: Ed25519PrivateKey | None = None,
        kid: str | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = kid or uuid.uuid4().hex[:16]
        self.private_key = private_key or Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        public = OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}]}

    def claims(self, *, tenant_id: str, subject: str, roles: list[str], typ: str) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "tenant_id": tenant_id,
            "roles": roles,
            "typ": typ,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }

    def mint(
        self,
        *,
        tenant_id: str = "t-test",
        subject: str = "u-test",
        roles: list[str] | None = None,
        typ: str = "access",
        **overrides: Any,
    ) -> str:
        claims = self.claims(tenant_id=tenant_id, subject=subject, roles=roles or [], typ=typ)
        claims.update(overrides)
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def attacks(self, *, tenant_id: str = "t-test") -> dict[str, str]:
        """Tokens every verifier must refuse, by name (security tests at every entry)."""
        now = int(time.time())
        public_pem = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        good = self.mint(tenant_id=tenant_id)
        head, body, signature = good.split(".")
        claims = self.claims(tenant_id=tenant_id, subject="u", roles=[], typ="access")
        unsigned = jwt.encode(claims, key="", algorithm="none")
        return {
            "alg-none": unsigned,
            "hs256-with-public-key": _hs256(claims, public_pem, self.kid),
            "wrong-audience": self.mint(tenant_id=tenant_id, aud="someone-else"),
            "wrong-issuer": self.mint(tenant_id=tenant_id, iss="evil-gateway"),
            "expired": self.mint(tenant_id=tenant_id, iat=now - 3600, exp=now - 600),
            "not-yet-valid": self.mint(tenant_id=tenant_id, nbf=now + 600),
            "wrong-typ": self.mint(tenant_id=tenant_id, typ="refresh"),
            "unknown-kid": TokenMint(private_key=self.private_key, kid="unknown").mint(
                tenant_id=tenant_id
            ),
            "tampered-signature": f"{head}.{body}.{signature[::-1]}",
            "tampered-claims": f"{head}.{_b64(json.dumps({**claims, 'sub': 'admin'}).encode())}"
            f".{signature}",
            "foreign-key": TokenMint(kid=self.kid).mint(tenant_id=tenant_id),
            "garbage": "not.a.jwt",
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 signed with the public key as the secret: the classic algorithm confusion."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"


@contextmanager
def served_in_a_thread(app: Any, *, start_timeout_s: float = 20.0) -> Iterator[str]:
    """An ASGI app served by uvicorn in a thread on a free port: its base URL. For tools
    that call it with blocking HTTP (schemathesis)."""
    import asyncio
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout_s)


def fuzz_for_server_errors(
    base_url: str,
    headers: dict[str, str],
    mode: Any,
    *,
    min_operations: int = 1,
    max_examples: int = 8,
) -> None:
    """schemathesis over a service's own document (``mode``: a GenerationMode): whatever the
    document allows a client to send, and much it does not, gets no 5xx, and every refusal
    is problem+json."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    # An operation the document cannot describe fails here: .ok() raises on an Err.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= min_operations
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"] == ["application/problem+json"]

        call()


@functools.cache
def contracts() -> Registry:
    """Every contract, read and checked once per test process."""
    return Registry.load()


async def outbox_events(engine: AsyncEngine, event_type: str | None = None) -> list[Event]:
    """A service's outbox as its relay would publish it, each event checked against its
    contract (a test sees only what the service may really send)."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox).order_by(outbox.c.id))).all()
    found = []
    for row in rows:
        headers = [(name, value.encode()) for name, value in row.headers]
        event = decode(row.topic, row.key.encode(), row.payload.encode(), headers)
        contracts().validate(event)
        if event_type is None or event.type == event_type:
            found.append(event)
    return found


async def publish_checked(producer: AIOKafkaProducer, *events: Event) -> None:
    """Onto the broker as another service's relay publishes them, each checked first."""
    for event in events:
        contracts().validate(event)
        await producer.send_and_wait(
            event.topic,
            value=event.kafka_value(),
            key=event.key.encode() if event.key else None,
            headers=event.kafka_headers(),
        )


async def until(condition: Callable[[], Awaitable[T]], what: str, timeout_s: float = 60.0) -> T:
    """Poll ``condition`` until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (found := await condition()):
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s}s")
        await asyncio.sleep(0.05)
    return found
