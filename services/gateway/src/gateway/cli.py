"""quanzi-gateway: migrate the database, serve the API, administer tenants.

On a development platform started with `make run` / `quanzi-dev run`, run these as
`quanzi-dev admin tenants ...`: it finds that platform's data (same --var, same
QUANZI_POSTGRES_URL). Run directly, the gateway's environment (QUANZI_GATEWAY_DATABASE_URL,
signing key) must be the serving gateway's.

quanzi-gateway migrate | serve [--port N]
quanzi-gateway tenants create SLUG --name NAME --owner-email EMAIL [--owner-name N] [--plan P]
                                [--timezone ZONE]
quanzi-gateway tenants list [--status active|suspended]
quanzi-gateway tenants suspend|reactivate TENANT_ID --reason TEXT
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gateway.domain.tenants import TenantStatus
from gateway.identity import Identity
from gateway.keys import load_signing_keys
from gateway.orm import Tenant
from gateway.security import TokenIssuer
from gateway.settings import Settings
from servicekit.db import create_engine, session_factory
from servicekit.problems import Problem
from servicekit.service_cli import service_main


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["tenants"]:
        return asyncio.run(_tenants(args[1:]))
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
    return service_main("gateway", default_port=8000, argv=args)


async def _tenants(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="quanzi-gateway tenants")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a tenant and invite its owner")
    create.add_argument("slug")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-name", default="Owner")
    create.add_argument("--plan", default="standard")
    create.add_argument("--timezone", default="Asia/Shanghai", help="IANA zone of its days")
    listing = commands.add_parser("list", help="list tenants")
    listing.add_argument("--status", choices=[s.value for s in TenantStatus])
    for name in ("suspend", "reactivate"):
        change = commands.add_parser(name, help=f"{name} a tenant")
        change.add_argument("tenant_id")
        change.add_argument("--reason", required=True)
    args = parser.parse_args(argv)
    missing = _missing_database(Settings())
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 1
    try:
        return await _with_identity(lambda identity: _run(identity, args))
    except Problem as problem:
        print(f"error: {problem.title}: {problem.detail or ''}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(
            f"error: database not ready ({error.orig}); run `quanzi-gateway migrate` first",
            file=sys.stderr,
        )
        return 1


def _missing_database(settings: Settings) -> str | None:
    """Why the administered database is not the platform's, if it plainly is not: an
    SQLite file that does not exist (opening it would create an empty database, and a
    development signing key beside it, that nothing serves)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if Path(url.database).exists():
        return None
    return (
        f"no gateway database at {Path(url.database).resolve()}. On a platform started with "
        "`make run`, use `quanzi-dev admin tenants ...` (add --var DIR if it runs with one); "
        "otherwise set QUANZI_GATEWAY_DATABASE_URL to the gateway's database "
        "(and run `quanzi-gateway migrate` once for a new one)."
    )


async def _with_identity(run: Callable[[Identity], Awaitable[int]]) -> int:
    settings = Settings()
    engine = create_engine(settings.database_url)
    issuer = TokenIssuer(
        load_signing_keys(settings), issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    try:
        return await run(Identity(session_factory(engine), issuer, settings))
    finally:
        await engine.dispose()


async def _run(identity: Identity, args: argparse.Namespace) -> int:
    if args.command == "create":
        tenant, invitation = await identity.tenants.create(
            slug=args.slug,
            name=args.name,
            plan=args.plan,
            timezone=args.timezone,
            owner_email=args.owner_email,
            owner_name=args.owner_name,
        )
        print(f"created tenant {tenant.slug} ({tenant.id}), plan {tenant.plan}")
        print(
            f"invited owner {invitation.operator.email}; invitation token (valid until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC):\n  {invitation.token}"
        )
        print("the token was also published for the mailer (gateway.notifications)")
        return 0
    if args.command == "list":
        after = None
        while page := await identity.tenants.page(status=args.status, after=after, limit=200):
            for tenant in page:
                _print_tenant(tenant)
            after = (page[-1].created_at, page[-1].id)
        return 0
    status = TenantStatus.SUSPENDED if args.command == "suspend" else TenantStatus.ACTIVE
    tenant = await identity.tenants.set_status(args.tenant_id, status, args.reason)
    print(f"tenant {tenant.slug} ({tenant.id}) is now {tenant.status}: {args.reason}")
    return 0


def _print_tenant(tenant: Tenant) -> None:
    print(
        f"{tenant.id}  {tenant.slug:<24} {tenant.status:<10} {tenant.plan:<10} "
        f"{tenant.created_at:%Y-%m-%d}  {tenant.name}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
