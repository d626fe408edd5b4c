"""``quanzi-dev run``: the dev broker, migrations, all services and the gateway.
``quanzi-dev admin tenants ...``: the gateway's admin commands on that platform's data.
``quanzi-dev events tail [TOPIC...]``: its events, printed as they arrive.

It knows the services by name and command only (it imports none of them), so it
can also start the platform for end-to-end tests and benchmarks on free ports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from quanzi_devstack.events import run_tail
from servicekit.contracts import Registry
from servicekit.devbroker import DevBroker, die_with_parent, free_port_block, port_open
from servicekit.kafka import KafkaConfig, contract_topics, ensure_topics

SERVICES = ("onboarding", "content", "activities", "rewards", "insights", "integrations")
MIB = 1024 * 1024
# The dev broker never frees what it stores: past this much memory the launcher recycles it
# (the services publish what they retain again, servicekit.brokerwatch).
DEFAULT_BROKER_MAX_MIB = 1024
BROKER_REPORT_S = 600.0  # how often `run` prints the broker's memory
# The bulk paths the bulk lane serves, by service.
BULK_ROUTES = {"onboarding": "/v1/onboarding/members/batch"}
DEFAULT_PORTS = {name: 8000 + offset for offset, name in enumerate(("gateway", *SERVICES))}


@dataclass
class Platform:
    """All services as processes. ``external_kafka`` skips the dev broker."""

    var_dir: Path
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    broker_port: int = 9092
    external_kafka: str | None = None
    database_urls: Mapping[str, str] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    workers: Mapping[str, int] = field(default_factory=dict)  # processes per service (PG)
    # Replicas per service, each its own process on its own port (PostgreSQL): the gateway
    # spreads requests over them. Replica 0 is named after the service, the others
    # "<service>-<n>" (in ``processes``, ``kill`` and the log file names).
    replicas: Mapping[str, int] = field(default_factory=dict)
    replica_ports: dict[str, int] = field(default_factory=dict)
    # A separate lane for bulk work: one more onboarding process ("onboarding-bulk") that
    # the gateway sends the member imports to, so that a 1,000-row batch never holds up the
    # event loop serving other tenants' joins.
    bulk_lane: bool = False
    quiet: bool = False
    broker_max_bytes: int = DEFAULT_BROKER_MAX_MIB * MIB
    # A recycle puts the services' retained events back on the broker: if they alone pass
    # the limit, recycling again at once would only repeat that.
    broker_recycle_min_s: float = 600.0
    _recycled_at: float = field(default=float("-inf"), init=False, repr=False)
    broker: DevBroker | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, var_dir: Path, **kwargs: object) -> Platform:
        base = free_port_block(len(DEFAULT_PORTS) + 1)
        ports = {name: base + offset for offset, name in enumerate(DEFAULT_PORTS)}
        broker_port = base + len(DEFAULT_PORTS)
        return cls(var_dir=var_dir, ports=ports, broker_port=broker_port, **kwargs)  # type: ignore[arg-type]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def bootstrap_servers(self) -> str:
        return self.external_kafka or f"127.0.0.1:{self.broker_port}"

    @property
    def mail_dir(self) -> Path:
        """Where the gateway writes every mail (no SMTP in development)."""
        return self.var_dir / "mail"

    def url(self, service: str) -> str:
        """A service's (or a replica's: "onboarding-1") base URL."""
        port = self.replica_ports.get(service) or self.ports[service]
        return f"http://127.0.0.1:{port}"

    def replica_names(self, service: str) -> list[str]:
        count = self.replicas.get(service, 1)
        bulk = [f"{service}-bulk"] if self.bulk_lane and service in BULK_ROUTES else []
        return [service, *(f"{service}-{n}" for n in range(1, count)), *bulk]

    def env_for(self, service: str) -> dict[str, str]:
        prefix = f"QUANZI_{service.upper()}_"
        env = {
            **os.environ,
            prefix + "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            prefix + "DATABASE_URL": self.database_urls.get(
                service, f"sqlite+aiosqlite:///{self.var_dir / (service + '.db')}"
            ),
            prefix + "JWKS_URL": f"{self.gateway_url}/.well-known/jwks.json",
        }
        if service == "gateway":
            upstreams = {
                name: ",".join(
                    self.url(replica)
                    for replica in self.replica_names(name)
                    if not replica.endswith("-bulk")
                )
                for name in SERVICES
            }
            if self.bulk_lane:
                lanes = {f"{name}-bulk": name for name in BULK_ROUTES}
                upstreams.update({lane: self.url(lane) for lane in lanes})
                routes = {f"/v1/{name}": name for name in SERVICES}
                routes.update({path: f"{name}-bulk" for name, path in BULK_ROUTES.items()})
                env[prefix + "ROUTES"] = json.dumps(routes)
            env[prefix + "UPSTREAMS"] = json.dumps(upstreams)
            env[prefix + "SIGNING_KEY_FILE"] = str(self.var_dir / "gateway-signing-key.pem")
            env[prefix + "MAIL_DIR"] = str(self.mail_dir)
            env[prefix + "PUBLIC_URL"] = self.gateway_url
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 90.0) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        extra = [r for s in SERVICES for r in self.replica_names(s)[1:]]
        if extra and not self.replica_ports:
            first = free_port_block(len(extra))
            self.replica_ports.update({r: first + n for n, r in enumerate(extra)})
        if self.external_kafka is None:
            self._say(f"starting the dev broker on 127.0.0.1:{self.broker_port}")
            self.broker = DevBroker(port=self.broker_port, log_path=self.var_dir / "broker.log")
            self.broker.start()
        for url in self.database_urls.values():
            asyncio.run(_create_postgres_database(url))
        self.migrate()
        for service in ("gateway", *SERVICES):
            for replica in self.replica_names(service):
                self.start_service(replica)
        self.wait_healthy(timeout_s)

    def migrate(self) -> None:
        """Every service's migrations, all at once: each has its own database, and the
        processes spend most of their time importing, which two cores overlap."""
        self._say("migrating " + ", ".join(("gateway", *SERVICES)))
        running = {
            service: subprocess.Popen(
                [sys.executable, "-m", f"{service}.cli", "migrate"],
                env=self.env_for(service),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for service in ("gateway", *SERVICES)
        }
        failed = []
        for service, process in running.items():
            _, errors = process.communicate()
            if process.returncode != 0:
                failed.append(f"{service} (exit {process.returncode}): {errors.decode()[-2000:]}")
        if failed:
            raise RuntimeError("migrations failed: " + "; ".join(failed))

    def start_service(self, replica: str) -> None:
        """Start a service, or one of its replicas ("onboarding-1")."""
        service = replica.rsplit("-", 1)[0] if replica in self.replica_ports else replica
        port = self.replica_ports.get(replica) or self.ports[service]
        if port_open("127.0.0.1", port):
            raise RuntimeError(f"port {port} for {replica} is already in use")
        log = open(self.var_dir / f"{replica}.log", "ab")  # noqa: SIM115 (lives with the process)
        self.processes[replica] = subprocess.Popen(
            [
                *(sys.executable, "-m", f"{service}.cli", "serve"),
                *("--port", str(port)),
                *("--workers", str(self.workers.get(service, 1))),
            ],
            env=self.env_for(service),
            stdout=log,
            stderr=log,
            # Ctrl-C reaches only this supervisor, which stops the services in order;
            # if the supervisor itself dies, the kernel terminates them.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for service, process in self.processes.items():
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited with {process.returncode}; "
                        f"see {self.var_dir / (service + '.log')}"
                    )
                try:
                    if httpx.get(self.url(service) + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} did not become healthy in {timeout_s:.0f}s")
                time.sleep(0.1)

    def tend_broker(self) -> str | None:
        """Restart the dev broker if it died, recycle it once it holds too much memory;
        says what it did. The services notice the new broker and recover (brokerwatch)."""
        broker = self.broker
        if broker is None:
            return None
        if not broker.running:
            reason = f"the dev broker exited ({broker.process and broker.process.returncode})"
        else:
            held = broker.memory_bytes() or 0
            since = time.monotonic() - self._recycled_at
            if held <= self.broker_max_bytes or since < self.broker_recycle_min_s:
                return None
            self._recycled_at = time.monotonic()
            reason = (
                f"the dev broker holds {held // MIB} MiB (limit {self.broker_max_bytes // MIB})"
            )
        broker.restart()
        asyncio.run(
            ensure_topics(KafkaConfig(self.bootstrap_servers), contract_topics(Registry.load()))
        )
        message = (
            f"{reason}: restarted empty on {self.bootstrap_servers}; "
            "the services send what they retain again"
        )
        self._say(message)
        return message

    def broker_memory_mib(self) -> int | None:
        held = self.broker.memory_bytes() if self.broker else None
        return None if held is None else held // MIB

    def add_replica(self, service: str) -> str:
        """Start one more replica of a running service (its consumers join their groups:
        a rebalance); the gateway keeps its list, so it serves no HTTP through it. Its name."""
        numbers = [r.rsplit("-", 1)[1] for r in self.replica_ports if r.startswith(service + "-")]
        count = max((int(n) for n in numbers if n.isdigit()), default=0)
        replica = f"{service}-{count + 1}"
        self.replica_ports[replica] = free_port_block(1)
        self.start_service(replica)
        return replica

    def kill(self, service: str) -> None:
        """kill -9 one service or replica (reliability tests)."""
        process = self.processes.pop(service)
        process.kill()
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def _say(self, message: str) -> None:
        if not self.quiet:
            print(f"[quanzi] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The gateway on --port, the services on the ports after it.
    ports = {name: args.port + offset for offset, name in enumerate(("gateway", *SERVICES))}
    platform = Platform(
        var_dir=Path(args.var).resolve(),
        ports=ports,
        broker_port=args.broker_port,
        external_kafka=os.environ.get("QUANZI_KAFKA_BOOTSTRAP_SERVERS") or None,
        database_urls=_postgres_urls(),
        broker_max_bytes=int(os.environ.get("QUANZI_DEV_BROKER_MAX_MIB", DEFAULT_BROKER_MAX_MIB))
        * MIB,
    )
    if args.command == "admin":
        return admin(platform, args.rest)
    if args.command == "events":
        return run_tail(platform.bootstrap_servers, args.topics, args.from_beginning)
    return run(platform)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--var", default=os.environ.get("QUANZI_VAR_DIR", "var"))
    common.add_argument("--port", type=int, default=int(os.environ.get("QUANZI_PORT", "8000")))
    common.add_argument(
        "--broker-port", type=int, default=int(os.environ.get("QUANZI_BROKER_PORT", "9092"))
    )
    parser = argparse.ArgumentParser(prog="quanzi-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", parents=[common], help="the whole platform on this machine")
    admin_parser = commands.add_parser(
        "admin",
        parents=[common],
        help="the gateway's admin commands on this platform's data, e.g. `tenants create`",
    )
    admin_parser.add_argument("rest", nargs=argparse.REMAINDER, help="quanzi-gateway arguments")
    events = commands.add_parser("events", parents=[common], help="look at the events")
    events.add_argument("action", choices=["tail"])
    events.add_argument("topics", nargs="*", help="default: every topic of contracts/")
    events.add_argument(
        "--from-beginning", action="store_true", help="first what the broker still holds"
    )
    return parser


def admin(platform: Platform, rest: list[str]) -> int:
    """``quanzi-gateway`` with the environment ``run`` gives the gateway (same data)."""
    command = [sys.executable, "-m", "gateway.cli", *(rest or ["--help"])]
    return subprocess.run(command, env=platform.env_for("gateway"), check=False).returncode


def run(platform: Platform) -> int:
    # Installed explicitly: a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        platform.start()
        recycled = (
            f" (dev broker: restarted if it dies, recycled past "
            f"{platform.broker_max_bytes // MIB} MiB)"
            if platform.broker
            else ""
        )
        print(
            f"\nQuanzi is running.\n"
            f"  gateway      {platform.gateway_url}  (healthz, readyz, /v1/...)\n"
            f"  JWKS         {platform.gateway_url}/.well-known/jwks.json\n"
            + "".join(f"  {s:<12} {platform.url(s)}/docs\n" for s in SERVICES)
            + f"  broker       {platform.bootstrap_servers}{recycled}\n"
            f"  logs, data   {platform.var_dir}\n"
            f"  mail         {platform.mail_dir} (development: every mail is a file here)\n"
            f"Ctrl-C stops everything.",
            flush=True,
        )
        last_report = time.monotonic()
        while all(process.poll() is None for process in platform.processes.values()):
            time.sleep(0.5)
            platform.tend_broker()
            if time.monotonic() - last_report > BROKER_REPORT_S:
                last_report = time.monotonic()
                held = platform.broker_memory_mib()
                if held is not None:
                    platform._say(f"the dev broker holds {held} MiB")
        dead = [name for name, p in platform.processes.items() if p.poll() is not None]
        print(f"[quanzi] {', '.join(dead)} exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n[quanzi] stopping", flush=True)
        return 0
    finally:
        # A second Ctrl-C (or uv forwarding the first) must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        platform.stop()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


async def _create_postgres_database(url: str) -> None:
    """Create the service's database on first run (PostgreSQL has no CREATE IF NOT EXISTS)."""
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database="postgres",
    )
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", parsed.database
        )
        if not exists:
            await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


def _postgres_urls() -> dict[str, str]:
    """``QUANZI_POSTGRES_URL=postgresql+asyncpg://user@host:5432`` → one database per service."""
    base = os.environ.get("QUANZI_POSTGRES_URL")
    if not base:
        return {}
    return {name: f"{base.rstrip('/')}/quanzi_{name}" for name in DEFAULT_PORTS}


if __name__ == "__main__":
    raise SystemExit(main())
