"""The whole platform as real processes (dev broker, five services) for journeys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from quanzi_devstack.run import Platform
from servicekit.testing import TokenMint


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform.on_free_ports(tmp_path_factory.mktemp("platform"), quiet=True)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def gateway_mint(platform: Platform) -> TokenMint:
    """Mints tokens with the gateway's own key and key id, as its token endpoints will."""
    pem = (platform.var_dir / "gateway-signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    jwks = httpx.get(platform.gateway_url + "/.well-known/jwks.json").json()
    return TokenMint(private_key=key, kid=jwks["keys"][0]["kid"])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
