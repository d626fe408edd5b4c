"""Settings of the integrations service; every variable is prefixed QUANZI_INTEGRATIONS_."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import Environment, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_INTEGRATIONS_", extra="ignore")

    service_name: str = "integrations"
    database_url: str = "sqlite+aiosqlite:///./var/integrations.db"

    # Development only: endpoints on loopback, private and link-local addresses (a receiver on
    # this machine), and plain http. Refused in production, where only public https URLs are
    # delivered to (checked when an endpoint is saved and again at every delivery).
    webhooks_allow_private: bool = False
    webhooks_allow_http: bool = False
    # One attempt: connect + send + the answer's first bytes, in seconds.
    webhooks_timeout_s: Annotated[float, Field(gt=0, le=60)] = 15.0
    # How much of an answer is read (the rest is never downloaded) and kept in the log.
    webhooks_response_limit_bytes: Annotated[int, Field(ge=0, le=65536)] = 4096
    webhooks_excerpt_bytes: Annotated[int, Field(ge=0, le=4096)] = 1024
    # Requests in flight: per endpoint (one slow endpoint holds only its own), and in all.
    webhooks_endpoint_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    webhooks_concurrency: Annotated[int, Field(ge=1, le=1024)] = 128
    # An endpoint failing without a success for this long is disabled (and announced).
    webhooks_disable_after_days: Annotated[float, Field(gt=0)] = 5.0
    # After a secret rotation the previous secret also signs, for this long.
    webhooks_rotation_overlap_hours: Annotated[float, Field(ge=0, le=168)] = 24.0

    # How long the pull feed (GET /v1/integrations/events) keeps events.
    feed_retention_days: Annotated[float, Field(gt=0)] = 30.0

    @model_validator(mode="after")
    def _private_targets_only_in_development(self) -> Settings:
        serious = self.environment not in (Environment.DEVELOPMENT, Environment.TEST)
        if serious and (self.webhooks_allow_private or self.webhooks_allow_http):
            raise ValueError(
                f"refusing to start in {self.environment.value} with webhooks to private "
                "addresses or over plain http"
            )
        return self
