"""Settings of the onboarding service; every variable is prefixed QUANZI_ONBOARDING_."""

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_ONBOARDING_", extra="ignore")

    service_name: str = "onboarding"
    database_url: str = "sqlite+aiosqlite:///./var/onboarding.db"
