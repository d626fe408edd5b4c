"""Settings of the rewards service; every variable is prefixed QUANZI_REWARDS_."""

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_REWARDS_", extra="ignore")

    service_name: str = "rewards"
    database_url: str = "sqlite+aiosqlite:///./var/rewards.db"
