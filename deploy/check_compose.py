"""Structural check of deploy/compose.yaml, run by ``make lint``.

No Docker needed: the file is read with PyYAML (anchors and ``<<`` merges resolved) and
checked for the shape the deployment relies on. ``${VAR:?...}`` interpolations are left as
they are; only their presence matters here.

Usage: ``python deploy/check_compose.py [path/to/compose.yaml]``
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

SERVICES = ("gateway", "onboarding", "content", "activities", "rewards", "insights", "integrations")
INFRASTRUCTURE = ("kafka", "postgres", "redis")
PUBLIC = "gateway"
REQUIRED_FIELDS = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ENVIRONMENT", "SECRET_KEY")
SHARED_VARIABLES = frozenset({"QUANZI_CONTRACTS_DIR"})  # read by every service, no prefix
DEFAULT_PATH = Path(__file__).resolve().parent / "compose.yaml"


def prefix(service: str) -> str:
    return f"QUANZI_{service.upper()}_"


def environment(definition: Mapping[str, Any]) -> dict[str, str]:
    """The ``environment`` of a service, from either the mapping or the ``KEY=VALUE`` list form."""
    raw = definition.get("environment") or {}
    if isinstance(raw, Mapping):
        return {str(key): "" if value is None else str(value) for key, value in raw.items()}
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    return {}


def command(definition: Mapping[str, Any]) -> list[str]:
    raw = definition.get("command")
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(part) for part in raw]
    return []


def depends_on(definition: Mapping[str, Any]) -> dict[str, str]:
    """Targets of ``depends_on`` with their condition (short list form: ``service_started``)."""
    raw = definition.get("depends_on") or {}
    if isinstance(raw, list):
        return {str(name): "service_started" for name in raw}
    if isinstance(raw, Mapping):
        conditions = {}
        for name, spec in raw.items():
            condition = spec.get("condition") if isinstance(spec, Mapping) else None
            conditions[str(name)] = str(condition or "service_started")
        return conditions
    return {}


def quanzi_program(definition: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(service, subcommand)`` when the command is ``quanzi-<service> <subcommand> ...``."""
    parts = command(definition)
    if len(parts) >= 2 and parts[0].startswith("quanzi-"):
        return parts[0].removeprefix("quanzi-"), parts[1]
    return None


def check_environment(name: str, service: str, env: Mapping[str, str]) -> list[str]:
    """The variables a container running ``quanzi-<service>`` needs, under the right prefix."""
    errors = []
    own = prefix(service)
    for field in REQUIRED_FIELDS:
        if not env.get(own + field):
            errors.append(f"{name}: environment lacks {own}{field}")
    value = env.get(own + "ENVIRONMENT")
    if value is not None and value != "production":
        errors.append(f"{name}: {own}ENVIRONMENT is {value!r}, expected 'production'")
    url = env.get(own + "DATABASE_URL", "")
    if url and not url.startswith("postgresql+asyncpg://"):
        errors.append(f"{name}: {own}DATABASE_URL must be postgresql+asyncpg://, got {url!r}")
    if url and not url.endswith(f"/quanzi_{service}"):
        errors.append(f"{name}: {own}DATABASE_URL must name the database quanzi_{service}")
    for key in env:
        if key.startswith("QUANZI_") and not key.startswith(own) and key not in SHARED_VARIABLES:
            errors.append(f"{name}: quanzi-{service} does not read {key} (prefix is {own})")
    if service == PUBLIC:
        errors += check_gateway_environment(name, env)
    return errors


def check_gateway_environment(name: str, env: Mapping[str, str]) -> list[str]:
    errors = []
    own = prefix(PUBLIC)
    for secret in ("SIGNING_KEY_PEM", "PLATFORM_ADMIN_KEY"):
        if not env.get(own + secret):
            errors.append(f"{name}: environment lacks {own}{secret}")
    raw = env.get(own + "UPSTREAMS")
    if raw is None:
        return [*errors, f"{name}: environment lacks {own}UPSTREAMS"]
    try:
        upstreams = json.loads(raw)
    except ValueError as error:
        return [*errors, f"{name}: {own}UPSTREAMS is not JSON: {error}"]
    if not isinstance(upstreams, dict):
        return [*errors, f"{name}: {own}UPSTREAMS must be a JSON object service -> URL"]
    missing = sorted(set(SERVICES) - {PUBLIC} - set(upstreams))
    if missing:
        errors.append(f"{name}: {own}UPSTREAMS lacks {', '.join(missing)}")
    return errors


def check(compose: Any) -> list[str]:
    if not isinstance(compose, Mapping) or not isinstance(compose.get("services"), Mapping):
        return ["no top-level 'services' mapping"]
    services: Mapping[str, Any] = compose["services"]
    errors: list[str] = []
    for name, definition in services.items():
        if not isinstance(definition, Mapping):
            errors.append(f"{name}: definition is not a mapping")
    if errors:
        return errors

    for name in (*SERVICES, *INFRASTRUCTURE):
        if name not in services:
            errors.append(f"service {name!r} is missing")

    migrated = {}  # service -> name of the compose service that runs its migration
    for name, definition in services.items():
        program = quanzi_program(definition)
        if program is None:
            continue
        service, subcommand = program
        if service not in SERVICES:
            errors.append(f"{name}: runs quanzi-{service}, which is not a Quanzi service")
            continue
        if subcommand == "migrate":
            migrated[service] = name
        errors += check_environment(name, service, environment(definition))

    for service in SERVICES:
        definition = services.get(service)
        if definition is None:
            continue
        if not definition.get("image") and not definition.get("build"):
            errors.append(f"{service}: needs an image or a build")
        program = quanzi_program(definition)
        if program != (service, "serve"):
            errors.append(f"{service}: command must be `quanzi-{service} serve ...`")
        migration = migrated.get(service)
        if migration is None:
            errors.append(f"{service}: no one-shot `quanzi-{service} migrate` service")
        elif depends_on(definition).get(migration) != "service_completed_successfully":
            errors.append(
                f"{service}: must depend on {migration} with service_completed_successfully"
            )
        if "healthcheck" not in definition:
            errors.append(f"{service}: no healthcheck")

    for name, definition in services.items():
        if definition.get("ports") and name != PUBLIC:
            errors.append(f"{name}: publishes ports; only {PUBLIC} may")
        for target in depends_on(definition):
            if target not in services:
                errors.append(f"{name}: depends_on {target!r}, which is not a service")
    if PUBLIC in services and not services[PUBLIC].get("ports"):
        errors.append(f"{PUBLIC}: publishes no port")
    return errors


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_PATH
    try:
        compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        print(f"{path}: cannot load: {error}", file=sys.stderr)
        return 1
    errors = check(compose)
    if errors:
        for message in errors:
            print(f"{path}: {message}", file=sys.stderr)
        return 1
    services = compose["services"]
    print(f"{path.name}: OK ({len(services)} services, {len(SERVICES)} Quanzi services checked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
