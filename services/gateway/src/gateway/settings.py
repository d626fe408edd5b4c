"""Settings of the gateway; every variable is prefixed QUANZI_GATEWAY_."""

from pydantic import SecretStr
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


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    database_url: str = "sqlite+aiosqlite:///./var/gateway.db"
    upstreams: dict[str, str] = DEFAULT_UPSTREAMS
    routes: dict[str, str] = DEFAULT_ROUTES
    upstream_timeout_s: float = 10.0
    # Ed25519 private key (PEM). In development a key is generated once into signing_key_file.
    signing_key_pem: SecretStr = SecretStr(DEV_SECRET)
    signing_key_file: str = "./var/gateway-signing-key.pem"
