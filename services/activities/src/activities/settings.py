"""Settings of the activities service; every variable is prefixed QUANZI_ACTIVITIES_."""

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_ACTIVITIES_", extra="ignore")

    service_name: str = "activities"
    database_url: str = "sqlite+aiosqlite:///./var/activities.db"
