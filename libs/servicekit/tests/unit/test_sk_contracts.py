"""Unit tests for servicekit.contracts: the registry of topics and event schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from servicekit.contracts import (
    ENV_CONTRACTS_DIR,
    ContractError,
    Registry,
    find_contracts_dir,
    render_catalog,
)
from servicekit.events import Event

REPO = Path(__file__).resolve().parents[4]
CONTRACTS = REPO / "contracts"
PROBE = "quanzi.platform.probe.recorded.v1"
SELFTEST = "platform.selftest"
GOOD_PROBE = {"probe_id": "p-1", "subject": "member-42", "amount": 5, "seq": 1}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(CONTRACTS)


def _event(event_type: str = PROBE, topic: str = SELFTEST, data: Any = None) -> Event:
    return Event(
        type=event_type,
        source="servicekit",
        tenant_id="t-1",
        topic=topic,
        data=dict(GOOD_PROBE) if data is None else data,
    )


def _write_contracts(
    root: Path,
    topics: dict[str, list[str]],
    schemas: list[str],
    examples: dict[str, Any] | None = None,
) -> Path:
    (root / "topics").mkdir(parents=True)
    (root / "schemas").mkdir()
    (root / "examples").mkdir()
    for name, events in topics.items():
        listed = "".join(f"\n  - {event}" for event in events)
        (root / "topics" / f"{name}.yaml").write_text(
            f"name: {name}\nproducer: svc\nconsumers: [other]\ndescription: Topic {name}.\n"
            f"events:{listed or ' []'}\n",
            encoding="utf-8",
        )
    for event_type in schemas:
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": f"Schema of {event_type}.",
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer", "description": "A number."}},
        }
        (root / "schemas" / f"{event_type}.json").write_text(json.dumps(schema), encoding="utf-8")
    for event_type, example in (examples or {}).items():
        (root / "examples" / f"{event_type}.json").write_text(json.dumps(example), encoding="utf-8")
    return root


def test_real_contracts_load_with_topics_and_schemas(registry: Registry) -> None:
    assert SELFTEST in registry.topics
    assert PROBE in registry.schemas
    topic = registry.topics[SELFTEST]
    assert PROBE in topic.events
    assert topic.dlq == "platform.selftest.dlq"
    assert topic.partitions >= 1


def test_every_real_example_validates(registry: Registry) -> None:
    assert registry.examples, "the contracts ship examples"
    for event_type, examples in registry.examples.items():
        assert examples
        topic = registry.topic_of(event_type)
        for example in examples:
            registry.validate_data(event_type, example)
            registry.validate(_event(event_type, topic.name, example))


def test_every_real_topic_event_has_a_schema(registry: Registry) -> None:
    for topic in registry.topics.values():
        for event_type in topic.events:
            assert event_type in registry.schemas
            assert registry.topic_of(event_type) is topic


def test_validate_accepts_a_good_event(registry: Registry) -> None:
    registry.validate(_event())


def test_validate_refuses_the_wrong_topic(registry: Registry) -> None:
    with pytest.raises(ContractError, match=r"belongs on platform\.selftest"):
        registry.validate(_event(topic="rewards.points"))


def test_validate_refuses_an_unknown_type(registry: Registry) -> None:
    with pytest.raises(ContractError, match="unregistered"):
        registry.validate(_event(event_type="quanzi.nothing.happened.v1"))
    with pytest.raises(ContractError, match="unregistered"):
        registry.validate_data("quanzi.nothing.happened.v1", {})
    with pytest.raises(ContractError, match="unregistered"):
        registry.topic_of("quanzi.nothing.happened.v1")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"subject": "m", "amount": 1, "seq": 1}, "(root)"),  # probe_id missing
        ({**GOOD_PROBE, "amount": "five"}, "amount"),
        ({**GOOD_PROBE, "amount": 1.5}, "amount"),
        ({**GOOD_PROBE, "probe_id": ""}, "probe_id"),
        ({**GOOD_PROBE, "unexpected": 1}, "(root)"),  # additionalProperties: false
        ({**GOOD_PROBE, "poison": "yes"}, "poison"),
    ],
)
def test_validate_refuses_data_breaking_the_schema(
    registry: Registry, data: dict[str, Any], where: str
) -> None:
    with pytest.raises(ContractError) as caught:
        registry.validate(_event(data=data))

    assert str(caught.value).startswith(f"{PROBE} at {where}:")


def test_a_topic_listing_a_type_without_schema_is_refused(tmp_path: Path) -> None:
    root = _write_contracts(tmp_path, {"a.topic": ["x.made.v1", "y.made.v1"]}, ["x.made.v1"])

    with pytest.raises(ContractError, match=r"a\.topic: no schema for y\.made\.v1"):
        Registry.load(root)


def test_a_schema_on_no_topic_is_refused(tmp_path: Path) -> None:
    root = _write_contracts(tmp_path, {"a.topic": ["x.made.v1"]}, ["x.made.v1", "orphan.v1"])

    with pytest.raises(ContractError, match=r"schema orphan\.v1 belongs to no topic"):
        Registry.load(root)


def test_a_topic_file_without_name_is_refused(tmp_path: Path) -> None:
    root = _write_contracts(tmp_path, {}, [])
    (root / "topics" / "broken.yaml").write_text("producer: svc\n", encoding="utf-8")

    with pytest.raises(ContractError, match=r"broken\.yaml"):
        Registry.load(root)


def test_an_invalid_schema_is_refused(tmp_path: Path) -> None:
    root = _write_contracts(tmp_path, {"a.topic": ["x.made.v1"]}, [])
    (root / "schemas" / "x.made.v1.json").write_text('{"type": 12}', encoding="utf-8")

    with pytest.raises(ContractError, match="invalid JSON Schema"):
        Registry.load(root)


def test_a_consistent_temp_registry_loads_with_defaults(tmp_path: Path) -> None:
    root = _write_contracts(
        tmp_path, {"a.topic": ["x.made.v1"]}, ["x.made.v1"], {"x.made.v1": {"n": 3}}
    )

    registry = Registry.load(root)

    topic = registry.topics["a.topic"]
    assert topic.producer == "svc"
    assert topic.consumers == ("other",)
    assert topic.partitions == 3
    assert topic.retention_ms == 7 * 24 * 3600 * 1000
    assert registry.examples == {"x.made.v1": [{"n": 3}]}  # a single example becomes a list


def test_catalog_names_topics_and_events(registry: Registry) -> None:
    catalog = render_catalog(registry)

    assert catalog.startswith("# Event catalog\n")
    assert f"## Topic `{SELFTEST}`" in catalog
    assert f"### `{PROBE}`" in catalog
    assert "| `probe_id` | string | yes |" in catalog
    assert "`platform.selftest.dlq`" in catalog
    assert '"probe_id": "p-1"' in catalog  # the example is rendered
    assert catalog.endswith("\n")
    assert not catalog.endswith("\n\n")


def test_catalog_of_a_temp_registry(tmp_path: Path) -> None:
    root = _write_contracts(tmp_path, {"b.topic": ["y.made.v1"], "a.topic": []}, ["y.made.v1"])

    catalog = render_catalog(Registry.load(root))

    assert catalog.index("## Topic `a.topic`") < catalog.index("## Topic `b.topic`")
    assert "### `y.made.v1`" in catalog
    assert "- consumers: other" in catalog
    assert "| `n` | integer | yes | A number. |" in catalog


def test_docs_catalog_is_up_to_date(registry: Registry) -> None:
    docs = REPO / "docs" / "events.md"

    assert docs.read_text(encoding="utf-8") == render_catalog(registry)


def test_find_contracts_dir_prefers_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV_CONTRACTS_DIR, str(tmp_path / "elsewhere"))

    assert find_contracts_dir() == tmp_path / "elsewhere"
    assert find_contracts_dir(CONTRACTS.parent) == tmp_path / "elsewhere"


def test_find_contracts_dir_searches_upwards_from_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ENV_CONTRACTS_DIR, raising=False)
    _write_contracts(tmp_path / "contracts", {}, [])
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)

    assert find_contracts_dir(deep) == tmp_path / "contracts"


def test_registry_load_uses_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = _write_contracts(tmp_path / "c", {"a.topic": ["x.made.v1"]}, ["x.made.v1"])
    monkeypatch.setenv(ENV_CONTRACTS_DIR, str(root))

    registry = Registry.load()

    assert registry.root == root
    assert list(registry.topics) == ["a.topic"]
