"""quanzi-content: migrate the database, serve the API."""

from servicekit.service_cli import service_main


def main() -> int:
    return service_main("content", default_port=8002)


if __name__ == "__main__":
    raise SystemExit(main())
