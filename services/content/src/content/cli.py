"""quanzi-content: migrate the database, serve the API."""

from pathlib import Path

from content.settings import Settings
from servicekit.service_cli import service_main

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main() -> int:
    return service_main(
        service="content",
        settings_factory=Settings,
        alembic_ini=ALEMBIC_INI,
        app_path="content.app:create_app",
        default_port=8002,
    )


if __name__ == "__main__":
    raise SystemExit(main())
