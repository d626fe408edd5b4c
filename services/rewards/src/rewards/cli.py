"""quanzi-rewards: migrate the database, serve the API."""

from pathlib import Path

from rewards.settings import Settings
from servicekit.service_cli import service_main

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main() -> int:
    return service_main(
        service="rewards",
        settings_factory=Settings,
        alembic_ini=ALEMBIC_INI,
        app_path="rewards.app:create_app",
        default_port=8004,
    )


if __name__ == "__main__":
    raise SystemExit(main())
