"""The contracts registry: topics (``topics/*.yaml``) and JSON Schemas per event type."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from servicekit.events import Event

ENV_CONTRACTS_DIR = "QUANZI_CONTRACTS_DIR"
DLQ_SUFFIX = ".dlq"


class ContractError(ValueError):
    """An event or a contract file that breaks the registry's rules."""


@dataclass(frozen=True)
class TopicContract:
    name: str
    producer: str
    consumers: tuple[str, ...]
    partitions: int
    retention_ms: int
    key: str
    description: str
    events: tuple[str, ...]

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


@dataclass
class Registry:
    root: Path
    topics: dict[str, TopicContract] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path | None = None) -> Registry:
        root = root or find_contracts_dir()
        registry = cls(root=root)
        for path in sorted((root / "topics").glob("*.yaml")):
            topic = _topic_from_yaml(path)
            if topic.name in registry.topics:
                raise ContractError(f"{path.name}: topic {topic.name} is defined twice")
            registry.topics[topic.name] = topic
        for path in sorted((root / "schemas").glob("*.json")):
            schema = _read_json(path)
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as error:
                raise ContractError(f"{path.name}: invalid JSON Schema: {error.message}") from error
            registry.schemas[path.name.removesuffix(".json")] = schema
        for path in sorted((root / "examples").glob("*.json")):
            examples = _read_json(path)
            registry.examples[path.name.removesuffix(".json")] = (
                examples if isinstance(examples, list) else [examples]
            )
        registry._check_consistency()
        return registry

    def _check_consistency(self) -> None:
        owners: dict[str, str] = {}
        for topic in self.topics.values():
            for event_type in topic.events:
                if owners.setdefault(event_type, topic.name) != topic.name:
                    raise ContractError(f"{event_type} is on {owners[event_type]} and {topic.name}")
        for topic in self.topics.values():
            for event_type in topic.events:
                if event_type not in self.schemas:
                    raise ContractError(f"{topic.name}: no schema for {event_type}")
        for event_type in self.schemas:
            if not any(event_type in topic.events for topic in self.topics.values()):
                raise ContractError(f"schema {event_type} belongs to no topic")

    def topic_of(self, event_type: str) -> TopicContract:
        for topic in self.topics.values():
            if event_type in topic.events:
                return topic
        raise ContractError(f"unregistered event type {event_type!r}")

    def validate_data(self, event_type: str, data: dict[str, Any]) -> None:
        schema = self.schemas.get(event_type)
        if schema is None:
            raise ContractError(f"unregistered event type {event_type!r}")
        errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: e.path)
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path) or "(root)"
            raise ContractError(f"{event_type} at {where}: {errors[0].message}")

    def validate(self, event: Event) -> None:
        """Producers' events must match the registry: topic, type and data schema."""
        topic = self.topic_of(event.type)
        if topic.name != event.topic:
            raise ContractError(f"{event.type} belongs on {topic.name}, not {event.topic}")
        self.validate_data(event.type, event.data)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ContractError(f"{path.name}: not valid JSON: {error}") from error


def _topic_from_yaml(path: Path) -> TopicContract:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return TopicContract(
            name=str(raw["name"]),
            producer=str(raw["producer"]),
            consumers=tuple(raw.get("consumers") or ()),
            partitions=int(raw.get("partitions", 3)),
            retention_ms=int(raw.get("retention_ms", 7 * 24 * 3600 * 1000)),
            key=str(raw.get("key", "")),
            description=str(raw.get("description", "")).strip(),
            events=tuple(raw.get("events") or ()),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ContractError(f"{path.name}: {error}") from error


def find_contracts_dir(start: Path | None = None) -> Path:
    """``$QUANZI_CONTRACTS_DIR``, else the nearest ``contracts/`` above ``start`` or the cwd."""
    configured = os.environ.get(ENV_CONTRACTS_DIR)
    if configured:
        return Path(configured)
    for base in (start or Path.cwd(), Path(__file__).resolve()):
        for folder in (base, *base.parents):
            if (folder / "contracts" / "topics").is_dir():
                return folder / "contracts"
    raise ContractError(f"no contracts/ directory found; set {ENV_CONTRACTS_DIR}")


def render_catalog(registry: Registry) -> str:
    """The event catalog (Markdown), generated from the registry; ``docs/events.md``."""
    lines = [
        "# Event catalog",
        "",
        "Generated from `contracts/` by `servicekit catalog`; do not edit by hand.",
        "",
    ]
    for topic in sorted(registry.topics.values(), key=lambda t: t.name):
        lines += [
            f"## Topic `{topic.name}`",
            "",
            topic.description,
            "",
            f"- producer: {topic.producer}",
            f"- consumers: {', '.join(topic.consumers) or '(none yet)'}",
            f"- key: {topic.key or '(none)'} · partitions: {topic.partitions}"
            f" · retention: {topic.retention_ms // 3_600_000} h · dead letters: `{topic.dlq}`",
            "",
        ]
        for event_type in topic.events:
            schema = registry.schemas[event_type]
            lines += [f"### `{event_type}`", "", str(schema.get("description", "")).strip(), ""]
            lines += ["| field | type | required | description |", "|---|---|---|---|"]
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                kind = prop.get("type", "any")
                kind = " or ".join(kind) if isinstance(kind, list) else kind
                mark = "yes" if name in required else ""
                lines.append(f"| `{name}` | {kind} | {mark} | {prop.get('description', '')} |")
            for example in registry.examples.get(event_type, []):
                dumped = json.dumps(example, ensure_ascii=False, indent=2)
                lines += ["", "Example:", "", "```json", dumped, "```"]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
