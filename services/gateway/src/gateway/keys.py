"""The gateway's token signing keys and the JWKS every service verifies against.

The current key signs; a previous key (during a rotation) stays in the JWKS so
tokens it signed keep verifying until they expire.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from gateway.settings import Settings
from servicekit.settings import DEV_SECRET


@dataclass(frozen=True)
class SigningKeys:
    current: Ed25519PrivateKey
    previous: Ed25519PrivateKey | None = None

    @property
    def current_kid(self) -> str:
        return key_id(self.current)

    def jwks(self) -> dict[str, Any]:
        keys = [self.current] + ([self.previous] if self.previous else [])
        return {"keys": [_public_jwk(key) for key in keys]}


def load_signing_keys(settings: Settings) -> SigningKeys:
    previous = settings.previous_signing_key_pem
    return SigningKeys(
        current=load_signing_key(settings),
        previous=_parse(previous.get_secret_value().encode()) if previous else None,
    )


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured key; in development, one generated once and kept in a file."""
    pem = settings.signing_key_pem.get_secret_value()
    if pem != DEV_SECRET:
        return _parse(pem.encode())
    path = Path(settings.signing_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    return _parse(path.read_bytes())


def _parse(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the gateway signing key must be an Ed25519 private key")
    return key


def key_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _public_jwk(key: Ed25519PrivateKey) -> dict[str, Any]:
    public = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": key_id(key), "use": "sig", "alg": "EdDSA"}


def jwks(key: Ed25519PrivateKey) -> dict[str, Any]:
    return SigningKeys(current=key).jwks()
