"""quanzi-gateway: migrate the database, serve the API."""

from servicekit.service_cli import service_main


def main() -> int:
    return service_main("gateway", default_port=8000)


if __name__ == "__main__":
    raise SystemExit(main())
