"""Unit tests for servicekit.settings: defaults refused outside development, env prefixes."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from servicekit.settings import DEV_SECRET, Environment, ServiceSettings


class XSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="QUANZI_X_", extra="ignore")

    service_name: str = "x"
    api_token: SecretStr = SecretStr(DEV_SECRET)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("QUANZI_"):
            monkeypatch.delenv(name)


def test_defaults_are_for_development() -> None:
    settings = ServiceSettings()

    assert settings.environment is Environment.DEVELOPMENT
    assert settings.secret_key.get_secret_value() == DEV_SECRET
    assert settings.is_sqlite
    assert settings.jwt_algorithms == ["EdDSA"]


def test_test_environment_accepts_the_default_secret() -> None:
    assert ServiceSettings(environment="test").environment is Environment.TEST


def test_production_refuses_the_default_secret_key_and_names_it() -> None:
    with pytest.raises(ValidationError) as caught:
        ServiceSettings(environment="production")

    message = str(caught.value)
    assert "secret_key" in message
    assert "production" in message
    assert DEV_SECRET not in message  # the refusal does not echo the secret


def test_production_refuses_an_empty_secret_key() -> None:
    with pytest.raises(ValidationError, match="secret_key"):
        ServiceSettings(environment="production", secret_key="")


def test_production_accepts_a_real_secret_key() -> None:
    settings = ServiceSettings(environment="production", secret_key="s3cr3t-" + "x" * 32)

    assert settings.environment is Environment.PRODUCTION
    assert settings.secret_key.get_secret_value().startswith("s3cr3t-")


def test_production_names_every_default_secret_of_a_subclass() -> None:
    with pytest.raises(ValidationError) as caught:
        XSettings(environment="production")
    assert "api_token, secret_key" in str(caught.value)

    with pytest.raises(ValidationError) as caught:
        XSettings(environment="production", secret_key="real-secret")
    assert "api_token" in str(caught.value)
    assert "secret_key" not in str(caught.value).split("set ", 1)[1]

    XSettings(environment="production", secret_key="real-secret", api_token="real-token")


@pytest.mark.parametrize("environment", ["prod", "PRODUCTION", "staging", ""])
def test_unknown_environments_are_refused(environment: str) -> None:
    with pytest.raises(ValidationError, match="environment"):
        ServiceSettings(environment=environment, secret_key="real-secret")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://user@db:5432/quanzi",
        "sqlite+aiosqlite:///./var/x.db",
        "sqlite+aiosqlite:///:memory:",
    ],
)
def test_supported_database_urls(url: str) -> None:
    assert ServiceSettings(database_url=url).database_url == url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@db:5432/quanzi",
        "postgres://user@db/quanzi",
        "postgresql+psycopg://user@db/quanzi",
        "mysql://user@db/quanzi",
        "mysql+aiomysql://user@db/quanzi",
        "sqlite:///./var/x.db",
        "",
    ],
)
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="database_url"):
        ServiceSettings(database_url=url)


def test_is_sqlite_follows_the_url() -> None:
    assert not ServiceSettings(database_url="postgresql+asyncpg://db/q").is_sqlite
    assert ServiceSettings(database_url="sqlite+aiosqlite:///x.db").is_sqlite


def test_base_settings_read_the_quanzi_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANZI_SERVICE_NAME", "from-env")
    monkeypatch.setenv("QUANZI_MAX_BODY_BYTES", "2048")

    settings = ServiceSettings()

    assert settings.service_name == "from-env"
    assert settings.max_body_bytes == 2048


def test_subclass_reads_its_own_prefix_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANZI_SERVICE_NAME", "base-name")
    monkeypatch.setenv("QUANZI_DATABASE_URL", "postgresql+asyncpg://base/db")
    monkeypatch.setenv("QUANZI_X_DATABASE_URL", "postgresql+asyncpg://x/db")
    monkeypatch.setenv("QUANZI_X_JWT_ALGORITHMS", '["EdDSA", "ES256"]')

    settings = XSettings()

    assert settings.service_name == "x"  # QUANZI_SERVICE_NAME is not for this service
    assert settings.database_url == "postgresql+asyncpg://x/db"
    assert settings.jwt_algorithms == ["EdDSA", "ES256"]


def test_subclass_environment_from_env_refuses_default_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUANZI_X_ENVIRONMENT", "production")
    monkeypatch.setenv("QUANZI_SECRET_KEY", "set-for-the-wrong-prefix")
    monkeypatch.setenv("QUANZI_X_API_TOKEN", "real-token")

    with pytest.raises(ValidationError, match="secret_key"):
        XSettings()

    monkeypatch.setenv("QUANZI_X_SECRET_KEY", "real-secret")
    settings = XSettings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.secret_key.get_secret_value() == "real-secret"


def test_subclass_refuses_a_bad_database_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANZI_X_DATABASE_URL", "mysql://db/quanzi")

    with pytest.raises(ValidationError, match="database_url"):
        XSettings()


def test_unknown_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANZI_X_NOT_A_FIELD", "whatever")

    assert not hasattr(XSettings(), "not_a_field")
