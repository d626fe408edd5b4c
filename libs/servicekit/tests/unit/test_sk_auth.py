"""Unit tests for servicekit.auth.TokenVerifier: valid tokens and the usual JWT attacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servicekit import auth
from servicekit.auth import Principal, TokenVerifier
from servicekit.problems import Problem
from servicekit.testing import TokenMint

ISSUER = "quanzi-gateway"
AUDIENCE = "quanzi"


@pytest.fixture(scope="module")
def mint() -> TokenMint:
    return TokenMint(issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def verifier(mint: TokenMint) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA"], jwks=mint.jwks())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _forge(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def _claims(mint: TokenMint, **overrides: Any) -> dict[str, Any]:
    claims = mint.claims(tenant_id="t-1", subject="u-1", roles=["member"], typ="access")
    claims.update(overrides)
    return claims


def _sign_eddsa(mint: TokenMint, claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(
        claims, mint.private_key, algorithm="EdDSA", headers={"kid": mint.kid, **headers}
    )


async def _refused(verifier: TokenVerifier, token: str) -> Problem:
    with pytest.raises(Problem) as caught:
        await verifier.verify(token)
    problem = caught.value
    assert problem.status == 401
    assert problem.slug == "unauthenticated"
    assert problem.headers["WWW-Authenticate"].startswith("Bearer")
    return problem


async def test_a_valid_token_gives_the_principal(mint: TokenMint, verifier: TokenVerifier) -> None:
    token = mint.mint(tenant_id="t-42", subject="u-7", roles=["admin", "member"], typ="member")

    principal = await verifier.verify(token)

    assert principal == Principal(
        tenant_id="t-42", subject="u-7", roles=frozenset({"admin", "member"}), token_type="member"
    )
    assert principal.claims["iss"] == ISSUER
    assert principal.has_any_role("admin", "owner")
    assert not principal.has_any_role("owner")


async def test_a_token_without_roles_has_none(mint: TokenMint, verifier: TokenVerifier) -> None:
    claims = _claims(mint)
    del claims["roles"]

    principal = await verifier.verify(_sign_eddsa(mint, claims))

    assert principal.roles == frozenset()
    assert principal.token_type == "access"


async def test_expiry_within_leeway_is_tolerated(mint: TokenMint, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = mint.mint(iat=now - 100, exp=now - 1)

    assert (await verifier.verify(token)).subject == "u-test"


async def test_alg_none_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    token = _forge({"alg": "none", "typ": "JWT", "kid": mint.kid}, _claims(mint), lambda _: b"")

    problem = await _refused(verifier, token)
    assert problem.detail == "token algorithm not accepted"


async def test_alg_none_without_signature_segment_is_refused(
    mint: TokenMint, verifier: TokenVerifier
) -> None:
    token = _forge({"alg": "none", "kid": mint.kid}, _claims(mint), lambda _: b"")

    await _refused(verifier, token.rsplit(".", 1)[0] + ".")


@pytest.mark.parametrize("encoding", ["raw", "pem"])
async def test_hs256_signed_with_the_public_key_is_refused(
    mint: TokenMint, verifier: TokenVerifier, encoding: str
) -> None:
    public = mint.private_key.public_key()
    secret = (
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if encoding == "raw"
        else public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    token = _forge(
        {"alg": "HS256", "typ": "JWT", "kid": mint.kid},
        _claims(mint),
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )

    problem = await _refused(verifier, token)
    assert problem.detail == "token algorithm not accepted"


async def test_hs256_with_the_jwk_x_as_secret_is_refused(
    mint: TokenMint, verifier: TokenVerifier
) -> None:
    secret = mint.jwks()["keys"][0]["x"].encode()
    token = _forge(
        {"alg": "HS256", "kid": mint.kid},
        _claims(mint),
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )

    await _refused(verifier, token)


async def test_an_accepted_alg_name_with_another_key_type_is_refused(mint: TokenMint) -> None:
    """ES256 is pinned too, but the kid names an Ed25519 key: no cross-type confusion."""
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA", "ES256"], jwks=mint.jwks()
    )
    attacker = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(_claims(mint), attacker, algorithm="ES256", headers={"kid": mint.kid})

    await _refused(verifier, token)


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "someone-else"), ("aud", ["other", "another"]), ("iss", "evil-gateway")],
)
async def test_wrong_audience_or_issuer_is_refused(
    mint: TokenMint, verifier: TokenVerifier, claim: str, value: Any
) -> None:
    problem = await _refused(verifier, _sign_eddsa(mint, _claims(mint, **{claim: value})))
    assert problem.detail is not None
    assert problem.detail.startswith("invalid token")


async def test_expired_token_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    now = int(time.time())

    problem = await _refused(verifier, mint.mint(iat=now - 600, exp=now - 60))
    assert "expired" in (problem.detail or "")


async def test_not_yet_valid_token_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    await _refused(verifier, mint.mint(nbf=int(time.time()) + 120))


async def test_token_issued_in_the_future_is_refused(
    mint: TokenMint, verifier: TokenVerifier
) -> None:
    now = int(time.time())
    await _refused(verifier, mint.mint(iat=now + 3600, exp=now + 7200))


@pytest.mark.parametrize("typ", ["refresh", "id", "", "ACCESS", None, 1])
async def test_wrong_token_type_is_refused(
    mint: TokenMint, verifier: TokenVerifier, typ: Any
) -> None:
    await _refused(verifier, _sign_eddsa(mint, _claims(mint, typ=typ)))


@pytest.mark.parametrize("claim", ["typ", "tenant_id", "sub", "exp", "iat", "iss", "aud"])
async def test_missing_required_claim_is_refused(
    mint: TokenMint, verifier: TokenVerifier, claim: str
) -> None:
    claims = _claims(mint)
    del claims[claim]

    await _refused(verifier, _sign_eddsa(mint, claims))


async def test_null_tenant_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    await _refused(verifier, _sign_eddsa(mint, _claims(mint, tenant_id=None)))


@pytest.mark.parametrize("roles", ["admin", {"admin": True}, [1, 2], ["admin", None], 7])
async def test_malformed_roles_are_refused(
    mint: TokenMint, verifier: TokenVerifier, roles: Any
) -> None:
    problem = await _refused(verifier, _sign_eddsa(mint, _claims(mint, roles=roles)))
    assert problem.detail == "malformed roles claim"


@pytest.mark.parametrize("kid", ["not-the-kid", ""])
async def test_unknown_kid_is_refused(mint: TokenMint, verifier: TokenVerifier, kid: str) -> None:
    token = jwt.encode(_claims(mint), mint.private_key, algorithm="EdDSA", headers={"kid": kid})

    problem = await _refused(verifier, token)
    assert problem.detail == "unknown signing key"


async def test_missing_kid_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    token = jwt.encode(_claims(mint), mint.private_key, algorithm="EdDSA")

    await _refused(verifier, token)


async def test_another_key_under_the_right_kid_is_refused(
    mint: TokenMint, verifier: TokenVerifier
) -> None:
    other = Ed25519PrivateKey.generate()
    token = jwt.encode(_claims(mint), other, algorithm="EdDSA", headers={"kid": mint.kid})

    await _refused(verifier, token)


async def test_tampered_payload_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    header, payload, signature = mint.mint(tenant_id="t-1").split(".")
    claims = json.loads(_unb64(payload))
    claims["tenant_id"] = "t-victim"
    claims["roles"] = ["admin"]
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"

    await _refused(verifier, forged)


async def test_tampered_signature_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    header, payload, signature = mint.mint().split(".")
    raw = bytearray(_unb64(signature))
    raw[0] ^= 0x01

    await _refused(verifier, f"{header}.{payload}.{_b64(bytes(raw))}")
    await _refused(verifier, f"{header}.{payload}.")


async def test_tampered_header_is_refused(mint: TokenMint, verifier: TokenVerifier) -> None:
    _, payload, signature = mint.mint().split(".")
    header = _b64(json.dumps({"alg": "EdDSA", "kid": mint.kid, "x": 1}).encode())

    await _refused(verifier, f"{header}.{payload}.{signature}")


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJFZERTQSJ9", "Bearer x", "\x00\xff"],
)
async def test_garbage_is_refused(verifier: TokenVerifier, token: str) -> None:
    await _refused(verifier, token)


@pytest.mark.parametrize(
    "algorithms", [["HS256"], ["EdDSA", "HS256"], ["none"], ["HS512"], [], ["eddsa"]]
)
def test_constructor_refuses_unsafe_algorithms(mint: TokenMint, algorithms: list[str]) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms, jwks=mint.jwks())


def test_constructor_needs_keys_or_a_url() -> None:
    with pytest.raises(ValueError, match="JWKS"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA"])


def test_jwks_entries_without_kid_or_asymmetric_kty_are_ignored(mint: TokenMint) -> None:
    good = mint.jwks()["keys"][0]
    jwks = {
        "keys": [
            {k: v for k, v in good.items() if k != "kid"},
            {"kty": "oct", "kid": "sym", "k": _b64(b"secret")},
            good,
        ]
    }

    assert set(auth._parse_jwks(jwks)) == {mint.kid}


class _JwksServer:
    """Answers the JWKS URL through httpx.MockTransport; counts the fetches."""

    def __init__(self, answer: Callable[[], httpx.Response]) -> None:
        self.answer = answer
        self.fetches = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return self.answer()


@pytest.fixture
def jwks_server(monkeypatch: pytest.MonkeyPatch) -> Callable[..., _JwksServer]:
    real_client = httpx.AsyncClient

    def install(answer: Callable[[], httpx.Response]) -> _JwksServer:
        server = _JwksServer(answer)

        def client(**kwargs: Any) -> httpx.AsyncClient:
            return real_client(transport=httpx.MockTransport(server.handler), **kwargs)

        monkeypatch.setattr(auth.httpx, "AsyncClient", client)
        return server

    return install


async def test_url_verifier_fetches_keys_once_then_rate_limits(
    mint: TokenMint, jwks_server: Callable[..., _JwksServer]
) -> None:
    server = jwks_server(lambda: httpx.Response(200, json=mint.jwks()))
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA"], jwks_url="http://gw/jwks.json"
    )

    assert (await verifier.verify(mint.mint())).tenant_id == "t-test"
    assert (await verifier.verify(mint.mint())).tenant_id == "t-test"
    assert server.fetches == 1

    unknown = jwt.encode(_claims(mint), mint.private_key, algorithm="EdDSA", headers={"kid": "x"})
    for _ in range(3):
        await _refused(verifier, unknown)
    assert server.fetches == 1  # unknown kids do not amplify into JWKS fetches


async def test_url_verifier_answers_503_when_the_jwks_is_unavailable(
    mint: TokenMint, jwks_server: Callable[..., _JwksServer]
) -> None:
    jwks_server(lambda: httpx.Response(500, text="down"))
    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA"], jwks_url="http://gw/jwks.json"
    )

    with pytest.raises(Problem) as caught:
        await verifier.verify(mint.mint())

    assert caught.value.status == 503
