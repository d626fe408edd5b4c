"""Settings base: one env prefix per service; default secrets only in development and tests."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit import heap

DEV_SECRET = "dev-only-change-me"
SUPPORTED_DATABASE_SCHEMES = ("postgresql+asyncpg://", "sqlite+aiosqlite://")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Fields every service needs; a service subclasses it and sets its own env prefix.

    ``model_config = SettingsConfigDict(env_prefix="QUANZI_REWARDS_")`` gives
    ``QUANZI_REWARDS_DATABASE_URL`` and so on.
    """

    model_config = SettingsConfigDict(env_prefix="QUANZI_", extra="ignore")

    service_name: str = "service"
    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./var/service.db"
    database_pool_size: int = 10
    database_pool_pre_ping: bool = False  # a round trip per checkout (servicekit.db)
    # Bulk writers (imports) wait while this many events are unpublished (back-pressure,
    # servicekit.outbox.unsent_at_least); 0: never wait.
    outbox_bulk_backlog: int = 5000
    # Start-up's heap frozen, the young generation collected after this many net
    # allocations (Python: 700); 0 leaves the collector alone (servicekit.heap).
    gc_gen0_threshold: Annotated[int, Field(ge=0)] = heap.DEFAULT_GEN0_THRESHOLD

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu (dev broker) rejects InitProducerId; real Kafka should turn this on.
    kafka_enable_idempotence: bool = False
    # Tansu holds every fetch for the full wait even when data is ready: keep it low there.
    kafka_fetch_max_wait_ms: int = 10
    # ... and the wait a consumer idle for 2 s switches to (servicekit.kafka.FetchPacer).
    kafka_idle_fetch_max_wait_ms: int = 250
    # ... and the wait while every poll brings records (a burst): fewer, larger batches.
    kafka_busy_fetch_max_wait_ms: int = 50
    kafka_provision_topics: bool = True
    kafka_replication_factor: int = 1  # 3 on a production cluster
    consumers_enabled: bool = True

    relay_enabled: bool = True
    relay_batch_size: int = 500
    relay_poll_interval_s: float = 1.0
    # Sent rows are kept this long: what a broker that comes back empty gets again
    # (servicekit.brokerwatch). A consumer stopped for longer than this misses events then.
    relay_retention_hours: Annotated[float, Field(gt=0)] = 24.0
    # Compare the broker's cluster id before each batch (and each consumer batch).
    broker_watch_enabled: bool = True

    consumer_batch_size: int = 500
    # Applied event ids are kept this long for deduplication, then purged: longer than the
    # topics' retention on the broker and the relays' (a redelivery never comes from
    # further back). The default suits Kafka's default of 7 days.
    inbox_retention_hours: Annotated[float, Field(gt=0)] = 24.0 * 8
    consumer_max_attempts: int = 5
    consumer_retry_backoff_s: float = 0.2

    timers_enabled: bool = True
    timer_poll_interval_s: float = 1.0

    # SIGTERM: the server stops accepting at once, then waits this long for the requests in
    # flight (uvicorn's graceful shutdown timeout; they are cancelled after it) ...
    shutdown_http_timeout_s: Annotated[int, Field(ge=0)] = 15
    # ... then the relay, consumers and timers finish the batch in hand (the consumers commit
    # its offsets) within this; what is left is cancelled and redone after a restart.
    shutdown_runtime_timeout_s: Annotated[float, Field(ge=0)] = 5.0

    contracts_dir: str | None = None

    jwks_url: str = "http://127.0.0.1:8000/.well-known/jwks.json"
    jwks_json: str | None = None  # static JWKS (tests, air-gapped deployments)
    jwt_issuer: str = "quanzi-gateway"
    jwt_audience: str = "quanzi"
    jwt_algorithms: list[str] = ["EdDSA"]

    secret_key: SecretStr = SecretStr(DEV_SECRET)
    idempotency_ttl_hours: int = 24
    max_body_bytes: int = 1_048_576
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(SUPPORTED_DATABASE_SCHEMES):
            raise ValueError(f"database_url must start with one of {SUPPORTED_DATABASE_SCHEMES}")
        return value

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> ServiceSettings:
        if self.environment is Environment.DEVELOPMENT or self.environment is Environment.TEST:
            return self
        defaults = [
            name
            for name, value in self._secret_fields().items()
            if value.get_secret_value() in ("", DEV_SECRET)
        ]
        if defaults:
            raise ValueError(
                f"refusing to start in {self.environment.value}: "
                f"set {', '.join(sorted(defaults))} (still the development default)"
            )
        return self

    def _secret_fields(self) -> dict[str, SecretStr]:
        values: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        return {name: value for name, value in values.items() if isinstance(value, SecretStr)}

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
