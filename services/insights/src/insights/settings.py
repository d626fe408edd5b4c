"""Settings of the insights service; every variable is prefixed QUANZI_INSIGHTS_."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import Environment, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_INSIGHTS_", extra="ignore")

    service_name: str = "insights"
    database_url: str = "sqlite+aiosqlite:///./var/insights.db"
    # Development and tests only: a file holding seconds to add to the wall clock, read
    # on every request, so end-to-end journeys move to another local day without sleeping.
    clock_offset_file: str | None = None

    @model_validator(mode="after")
    def _test_clock_only_in_development(self) -> Settings:
        serious = self.environment not in (Environment.DEVELOPMENT, Environment.TEST)
        if self.clock_offset_file and serious:
            raise ValueError(f"refusing to start in {self.environment.value} with a test clock")
        return self
