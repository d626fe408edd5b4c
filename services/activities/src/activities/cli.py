"""quanzi-activities: migrate the database, serve the API."""

from servicekit.service_cli import service_main


def main() -> int:
    return service_main("activities", default_port=8003)


if __name__ == "__main__":
    raise SystemExit(main())
