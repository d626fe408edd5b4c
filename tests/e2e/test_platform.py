"""Journeys through the gateway over real HTTP, services and broker as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from quanzi_devstack.run import SERVICES, Platform
from servicekit.devbroker import free_port, port_open
from servicekit.testing import TokenMint


def wait_ready(url: str, timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.get(url + "/readyz", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readiness_through_the_gateway_covers_every_service(platform: Platform) -> None:
    assert httpx.get(platform.gateway_url + "/healthz").json() == {"status": "alive"}
    ready = wait_ready(platform.gateway_url)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {name: checks[name] for name in SERVICES} == {name: "ok" for name in SERVICES}
    assert checks["database"] == "ok" and checks["broker"] == "ok"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_verifies_the_gateways_tokens_itself(
    platform: Platform, gateway_mint: TokenMint, service: str
) -> None:
    token = gateway_mint.mint(tenant_id="t-e2e", subject="op-7", roles=["admin"])
    through_gateway = httpx.get(
        f"{platform.gateway_url}/v1/{service}/whoami",
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "req-e2e-1"},
    )
    assert through_gateway.status_code == 200, through_gateway.text
    assert through_gateway.json()["tenant_id"] == "t-e2e"
    assert through_gateway.headers["x-request-id"] == "req-e2e-1"
    # Straight at the service, bypassing the gateway: no token, no answer.
    bypass = httpx.get(f"{platform.url(service)}/v1/{service}/whoami")
    assert bypass.status_code == 401
    assert bypass.json()["type"].endswith("/unauthenticated")


def test_unknown_routes_and_forged_tokens_get_problems(
    platform: Platform, gateway_mint: TokenMint
) -> None:
    missing = httpx.get(platform.gateway_url + "/v1/nowhere/at-all")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    foreign = TokenMint().mint(tenant_id="t-e2e")  # right shape, someone else's key
    forged = httpx.get(
        f"{platform.gateway_url}/v1/rewards/whoami", headers={"Authorization": f"Bearer {foreign}"}
    )
    assert forged.status_code == 401


def test_a_killed_service_gives_502_then_recovers_on_restart(
    platform: Platform, gateway_mint: TokenMint
) -> None:
    token = gateway_mint.mint(tenant_id="t-e2e")
    url = f"{platform.gateway_url}/v1/content/whoami"
    headers = {"Authorization": f"Bearer {token}"}
    platform.kill("content")
    down = httpx.get(url, headers=headers)
    assert down.status_code == 502
    assert down.json()["type"].endswith("/bad-gateway")
    platform.start_service("content")
    platform.wait_healthy(60)
    assert httpx.get(url, headers=headers).status_code == 200


def test_make_run_entry_point_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    port, broker_port = free_port(), free_port()
    while any(port_open("127.0.0.1", port + i) for i in range(5)):
        port = free_port()
    var = tmp_path / "var"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "quanzi_devstack.run",
            "run",
            "--port",
            str(port),
            "--broker-port",
            str(broker_port),
            "--var",
            str(var),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "QUANZI_KAFKA_BOOTSTRAP_SERVERS"},
    )
    try:
        banner = ""
        assert run.stdout is not None
        for line in run.stdout:
            banner += line
            if "Ctrl-C stops everything" in line:
                break
        assert f"http://127.0.0.1:{port}" in banner
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 0
    finally:
        if run.poll() is None:
            run.kill()
    ports = [port + i for i in range(5)] + [broker_port]
    assert not [p for p in ports if port_open("127.0.0.1", p)]
    assert not _processes_mentioning(str(var))


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                environ = (entry / "environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline or text in environ:
                found.append(int(entry.name))
    return found
