"""Settings of the content service; every variable is prefixed QUANZI_CONTENT_."""

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_CONTENT_", extra="ignore")

    service_name: str = "content"
    database_url: str = "sqlite+aiosqlite:///./var/content.db"
