"""Settings of the gateway; every variable is prefixed QUANZI_GATEWAY_."""

from typing import Literal

from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.settings import DEV_SECRET, ServiceSettings

DEFAULT_UPSTREAMS = {
    "onboarding": "http://127.0.0.1:8001",
    "content": "http://127.0.0.1:8002",
    "activities": "http://127.0.0.1:8003",
    "rewards": "http://127.0.0.1:8004",
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

    def principal_bucket(self, kind: PrincipalKind) -> Bucket:
        sized = self.kinds.get(kind)
        return sized or Bucket(rate=self.principal_rate, burst=self.principal_burst)


def _plan(tenant: int, person: int, operator: int, apikey: int) -> PlanLimits:
    """A plan from sustained rates; bursts are twice the rate."""
    return PlanLimits(
        tenant_rate=tenant,
        tenant_burst=2 * tenant,
        principal_rate=person,
        principal_burst=2 * person,
        kinds={
            "operator": Bucket(rate=operator, burst=2 * operator),
            "apikey": Bucket(rate=apikey, burst=2 * apikey),
        },
    )


# Requests per second: tenant (everyone together), member, operator, API key.
DEFAULT_PLANS = {
    "free": _plan(20, 5, 10, 20),
    "standard": _plan(400, 20, 40, 300),
    "enterprise": _plan(3000, 50, 100, 2000),
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    database_url: str = "sqlite+aiosqlite:///./var/gateway.db"

    # Routing
    upstreams: dict[str, str] = DEFAULT_UPSTREAMS
    routes: dict[str, str] = DEFAULT_ROUTES
    route_timeouts_s: dict[str, float] = {}  # path prefix -> timeout; default below
    upstream_timeout_s: float = 10.0
    upstream_retries: int = 2  # idempotent methods only, on connect errors and 502/503/504
    breaker_failure_threshold: int = 5  # consecutive failures that open an upstream's circuit
    breaker_reset_s: float = 10.0  # open time before one trial request is let through
    # While a circuit is open, the upstream's /readyz is asked this often; ready closes it.
    breaker_probe_interval_s: float = 0.5
    cors_origins: list[str] = []

    # Tokens. Ed25519 private keys (PEM). In development a key is generated once into
    # signing_key_file. During a rotation, the old key goes to previous_signing_key_pem:
    # it no longer signs, but stays in the JWKS until tokens it signed have expired.
    signing_key_pem: SecretStr = SecretStr(DEV_SECRET)
    signing_key_file: str = "./var/gateway-signing-key.pem"
    previous_signing_key_pem: SecretStr | None = None
    access_token_ttl_s: int = 900
    member_token_ttl_s: int = 900
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
