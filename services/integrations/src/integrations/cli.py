"""quanzi-integrations: migrate the database, serve the API."""

from servicekit.service_cli import service_main


def main() -> int:
    return service_main("integrations", default_port=8005)


if __name__ == "__main__":
    raise SystemExit(main())
