"""Settings of the gateway; every variable is prefixed QUANZI_GATEWAY_."""

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from gateway.domain.balance import replica_bases
from servicekit.settings import DEV_SECRET, Environment, ServiceSettings

DEFAULT_UPSTREAMS = {
    "onboarding": "http://127.0.0.1:8001",
    "content": "http://127.0.0.1:8002",
    "activities": "http://127.0.0.1:8003",
    "rewards": "http://127.0.0.1:8004",
    "insights": "http://127.0.0.1:8005",
    "integrations": "http://127.0.0.1:8006",
}
# Path prefix -> upstream service; the longest matching prefix wins.
DEFAULT_ROUTES = {f"/v1/{name}": name for name in DEFAULT_UPSTREAMS}


class Bucket(BaseModel):
    """A token bucket's size: sustained requests per second and burst."""

    rate: float
    burst: int


PrincipalKind = Literal["member", "operator", "apikey"]


class PlanLimits(BaseModel):
    """Token buckets of a tenant plan: the tenant's (all its callers together) and one per
    caller, sized by kind of caller. A person (a member in the app, an operator at the
    console) gets ``principal_rate``/``principal_burst``; a kind listed in ``kinds`` gets
    its own size: an API key is a company's backend, which mints a member token each time
    an app user opens the app, so it needs a person's limit many times over."""

    tenant_rate: float
    tenant_burst: int
    principal_rate: float
    principal_burst: int
    kinds: dict[PrincipalKind, Bucket] = {}
    # The tenant's share of the upstreams: requests in flight at once through one gateway
    # process (gateway.fairshare); past it, its requests wait their turn at the gateway.
    max_in_flight: int = 32

    def principal_bucket(self, kind: PrincipalKind) -> Bucket:
        sized = self.kinds.get(kind)
        return sized or Bucket(rate=self.principal_rate, burst=self.principal_burst)


def _plan(tenant: int, person: int, operator: int, apikey: int, in_flight: int) -> PlanLimits:
    """A plan from sustained rates (bursts are twice the rate) and its share in flight."""
    return PlanLimits(
        max_in_flight=in_flight,
        tenant_rate=tenant,
        tenant_burst=2 * tenant,
        principal_rate=person,
        principal_burst=2 * person,
        kinds={
            "operator": Bucket(rate=operator, burst=2 * operator),
            "apikey": Bucket(rate=apikey, burst=2 * apikey),
        },
    )


# Requests per second: tenant (everyone together), member, operator, API key; then the
# tenant's requests in flight at once.
DEFAULT_PLANS = {
    "free": _plan(20, 5, 10, 20, 4),
    "standard": _plan(400, 20, 40, 300, 16),
    "enterprise": _plan(3000, 50, 100, 2000, 64),
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    database_url: str = "sqlite+aiosqlite:///./var/gateway.db"

    # Routing
    # A service's base URL, or several comma-separated (its replicas: round robin, and a
    # replica that fails or is not ready is left out until its /readyz answers 200).
    upstreams: dict[str, str] = DEFAULT_UPSTREAMS
    routes: dict[str, str] = DEFAULT_ROUTES
    route_timeouts_s: dict[str, float] = {}  # path prefix -> timeout; default below
    upstream_timeout_s: float = 10.0
    upstream_retries: int = 2  # idempotent methods only, on connect errors and 502/503/504
    breaker_failure_threshold: int = 5  # consecutive failures that open an upstream's circuit
    breaker_reset_s: float = 10.0  # open time before one trial request is let through
    # While a circuit is open, the upstream's /readyz is asked this often; ready closes it.
    breaker_probe_interval_s: float = 0.5
    # A request waiting this long for its tenant's share (plans' max_in_flight) gets a 429.
    tenant_share_wait_s: float = 10.0
    # Services with several replicas: each replica's /readyz asked this often (0: never).
    upstream_check_interval_s: float = 2.0
    # Re-resolve the upstreams' host names this often, one replica per address (a
    # Kubernetes headless Service); 0: never (the HTTP client resolves each connection).
    upstream_resolve_interval_s: float = 0.0
    cors_origins: list[str] = []

    # Tokens. Ed25519 private keys (PEM). In development a key is generated once into
    # signing_key_file. During a rotation, the old key goes to previous_signing_key_pem:
    # it no longer signs, but stays in the JWKS until tokens it signed have expired.
    signing_key_pem: SecretStr = SecretStr(DEV_SECRET)
    signing_key_file: str = "./var/gateway-signing-key.pem"
    previous_signing_key_pem: SecretStr | None = None
    access_token_ttl_s: int = 900
    member_token_ttl_s: int = 900
    # A member token minted with the same profile within this many seconds of the last
    # published member.identified publishes none (gateway.domain.identified).
    member_identified_window_s: float = 600.0
    refresh_token_ttl_days: int = 30

    # Identity
    platform_admin_key: SecretStr = SecretStr(DEV_SECRET)
    login_max_failures: int = 5  # then the account is locked for lockout_minutes
    lockout_minutes: int = 15
    password_reset_ttl_minutes: int = 30
    invitation_ttl_hours: int = 72

    # Rate limits: in memory for one instance; shared through Redis when redis_url is set.
    redis_url: str | None = None
    rate_limit_plans: dict[str, PlanLimits] = DEFAULT_PLANS
    default_plan: str = "standard"

    # Mail (invitations, password resets). With smtp_url the mailer sends by SMTP
    # (smtp:// with STARTTLS, smtps:// with implicit TLS; user:pass@ for AUTH). Without
    # it every mail is written as an .eml file into mail_dir: the development default.
    # In production one of the two must be set explicitly, or the gateway refuses to start.
    smtp_url: SecretStr | None = None
    smtp_timeout_s: float = 30.0
    mail_from: str = "Quanzi <no-reply@quanzi.localhost>"
    mail_dir: str = "./var/mail"
    public_url: str = "http://127.0.0.1:8000"  # the gateway as callers reach it
    console_url: str | None = None  # the web console; links fall back to public_url

    @field_validator("upstreams")
    @classmethod
    def _replica_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for upstream in value.values():
            replica_bases(upstream)  # raises ValueError on a malformed list
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ValueError("smtp_url must look like smtp://user:pass@host:587 or smtps://")
        return value

    @model_validator(mode="after")
    def _mail_configured_in_production(self) -> "Settings":
        if self.environment is not Environment.PRODUCTION or self.smtp_url is not None:
            return self
        if "mail_dir" not in self.model_fields_set:
            raise ValueError(
                "refusing to start in production without a mail transport: set smtp_url "
                "(or mail_dir, explicitly, to spool mail as .eml files)"
            )
        return self

    @property
    def mail_configured(self) -> bool:
        """True when mail leaves the machine (SMTP); the API then never shows links."""
        return self.smtp_url is not None

    @property
    def links_base(self) -> str:
        return (self.console_url or self.public_url).rstrip("/")
