"""bench/scale_model.py, the capacity plan's arithmetic: properties, not figures. More traffic
never needs less of anything; the parts that do not depend on bursts scale linearly with the
tenants; costs move what they price; the topics it plans are the registry's; bench results
override the costs they measured."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]


def _load_model() -> ModuleType:
    path = REPO / "bench" / "scale_model.py"
    spec = importlib.util.spec_from_file_location("scale_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_model"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


model = _load_model()
COSTS = model.load_costs([])


def plan(tenants: int, costs: dict[str, float] | None = None, **knobs: Any) -> Any:
    return model.plan(model.Traffic(tenants=tenants, **knobs), costs or COSTS)


def figures(p: Any) -> list[float]:
    """Every figure of a plan that more traffic must not lower."""
    values: list[float] = [p.api_requests_s, p.events_s, p.brokers]
    for sp in p.services.values():
        values += [sp.cores, sp.replicas, sp.connections, sp.relay_load, sp.write_tps]
        values += [sp.row_writes, sp.db_cores, sp.storage_gb_day, sp.storage_tb_year]
    for tp in p.topics.values():
        values += [tp.events_s, tp.partitions, tp.write_mbs, tp.read_mbs, tp.storage_tb]
    return values


def never_less(before: Any, after: Any) -> bool:
    pairs = zip(figures(before), figures(after), strict=True)
    return all(later >= earlier for earlier, later in pairs)


def test_the_three_scenarios_grow_in_every_figure() -> None:
    small, medium, large = (plan(n) for n in (10, 1_000, 10_000))
    assert never_less(small, medium) and never_less(medium, large)
    assert large.events_s > small.events_s * 100  # not only the floors moved


knobs = st.fixed_dictionaries(
    {
        "daily_active_share": st.floats(0.01, 1.0),
        "peak_factor": st.floats(1.0, 10.0),
        "checkins": st.floats(0.0, 5.0),
        "posts": st.floats(0.0, 5.0),
        "credits": st.floats(0.0, 10.0),
        "burst_joins": st.integers(0, 200_000),
        "burst_minutes": st.floats(1.0, 120.0),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    knobs=knobs,
    tenants=st.integers(1, 20_000),
    more=st.integers(1, 20_000),
    factor=st.floats(1.0, 3.0),
)
def test_more_tenants_or_more_activity_never_needs_less(
    knobs: dict[str, Any], tenants: int, more: int, factor: float
) -> None:
    base = plan(tenants, **knobs)
    assert never_less(base, plan(tenants + more, **knobs))
    busier = {**knobs, "peak_factor": knobs["peak_factor"] * factor}
    busier["credits"] = knobs["credits"] * factor
    assert never_less(base, plan(tenants, **busier))


@settings(max_examples=40, deadline=None)
@given(tenants=st.integers(10, 5_000), k=st.integers(2, 5))
def test_without_bursts_load_is_linear_in_tenants(tenants: int, k: int) -> None:
    one, many = plan(tenants, burst_joins=0), plan(k * tenants, burst_joins=0)
    assert many.events_s == pytest.approx(k * one.events_s)
    assert many.api_requests_s == pytest.approx(k * one.api_requests_s)
    for name, sp in one.services.items():
        assert many.services[name].cores == pytest.approx(k * sp.cores)
        assert many.services[name].storage_gb_day == pytest.approx(k * sp.storage_gb_day)
    for name, tp in one.topics.items():
        assert many.topics[name].storage_tb == pytest.approx(k * tp.storage_tb)


def test_peak_is_the_day_spread_over_its_seconds_times_the_peak_factor_plus_bursts() -> None:
    traffic = model.Traffic(tenants=100, peak_factor=4.0, bursting_share=0.05)
    daily, peak = traffic.daily(), traffic.peak()
    assert traffic.bursting_tenants == 5
    for op, count in daily.items():
        bursts = 5 * traffic.burst_rate if op == "join" else 0.0
        assert peak[op] == pytest.approx(count / 86_400 * 4.0 + bursts)
    assert model.Traffic(tenants=1, bursting_share=0.0001).bursting_tenants == 1


def test_sizing_covers_the_load_it_was_given() -> None:
    traffic = model.Traffic(tenants=3_000)
    p = model.plan(traffic, COSTS)
    for sp in p.services.values():
        assert sp.replicas >= traffic.min_replicas
        assert sp.replicas * traffic.cores_per_replica * traffic.target_utilisation >= sp.cores
        assert sp.connections == sp.replicas * model.PG_POOL
    write = sum(tp.write_mbs for tp in p.topics.values())
    disk = sum(tp.storage_tb for tp in p.topics.values())
    assert p.brokers * model.BROKER_WRITE_MBS >= write
    assert p.brokers * model.BROKER_DISK_TB >= disk
    assert p.brokers >= model.REPLICATION
    for tp in p.topics.values():
        # one consumer per partition: no partition carries more than one consumer's rate
        assert tp.events_s / tp.partitions <= COSTS["consumer_events_s"]
        assert tp.partitions in model.NICE_PARTITIONS


def test_a_cost_moves_what_it_prices_and_nothing_else() -> None:
    base = plan(1_000)
    dearer = plan(1_000, {**COSTS, "join_ms.onboarding": COSTS["join_ms.onboarding"] * 2})
    joins = base.operations_s["join"]
    added = dearer.services["onboarding"].cores - base.services["onboarding"].cores
    assert added == pytest.approx(joins * COSTS["join_ms.onboarding"] / 1000)
    for name in ("gateway", "content", "activities", "rewards"):
        assert dearer.services[name].cores == pytest.approx(base.services[name].cores)
    bigger = plan(1_000, {**COSTS, "record_bytes": COSTS["record_bytes"] * 2})
    for name, tp in base.topics.items():
        assert bigger.topics[name].storage_tb == pytest.approx(2 * tp.storage_tb)
        assert bigger.topics[name].events_s == pytest.approx(tp.events_s)


def test_the_database_path_escalates_with_load() -> None:
    order = ["one primary", "partitioned by tenant", "Citus"]

    def rank(path: str) -> int:
        return max(i for i, step in enumerate(order) if path.startswith(step))

    ranks = [
        rank(model.database_path(tps, rows, 1.0, tb))
        for tps, rows, tb in ((10, 100, 0.1), (10, 100, 3.0), (10, 100_000, 3.0))
    ]
    assert ranks == sorted(ranks) == [0, 1, 2]
    assert "read replicas" in model.database_path(10, 100, model.PG_CORES * 3, 0.1)


def test_topics_are_the_registry_s() -> None:
    registry = {
        doc["name"]: doc
        for doc in (
            yaml.safe_load(path.read_text())
            for path in (REPO / "contracts" / "topics").glob("*.yaml")
        )
    }
    ops = model.operations(COSTS)
    for name, topic in model.TOPICS.items():
        contract = registry[name]
        assert topic.key == contract["key"], name
        assert topic.partitions == contract["partitions"], name
        assert topic.retention_days == contract["retention_ms"] / 86_400_000, name
        modelled = set(contract["consumers"]) - set(model.NOT_MODELLED)
        assert set(topic.consumers) == modelled, name
        assert model.producer(name) == contract["producer"], name
        assert model.appliers(ops, name) <= set(contract["consumers"]), name
    for op in ops.values():
        assert set(op.events) <= set(model.TOPICS)
        assert set(op.cpu_ms) <= set(model.SERVICES)


def test_bench_results_override_the_costs_they_measured(tmp_path: Path) -> None:
    onboarding = tmp_path / "onboarding-1.json"
    onboarding.write_text(
        json.dumps({"args": {}, "cpu_ms_per_join": {"gateway": 2.0, "onboarding": 9.0}})
    )
    throughput = {"per_second": 1000.0, "consumer_cpu_share": 0.5}
    throughput |= {"relay_per_second": 2000.0, "relay_cpu_share": 0.2}
    pipeline = tmp_path / "pipeline-1.json"
    pipeline.write_text(
        json.dumps({"figures": [], "details": {"postgres": {"throughput": {"ours": throughput}}}})
    )
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"credit_ms": 3.0}))
    costs = model.load_costs([onboarding, pipeline, flat])
    assert costs["join_ms.onboarding"] == 9.0
    assert costs["join_ms.gateway"] == costs["gateway_ms"] == 2.0
    assert costs["join_ms.content"] == COSTS["join_ms.content"]
    assert costs["consume_ms_per_event"] == pytest.approx(0.5)
    assert costs["relay_ms_per_event"] == pytest.approx(0.1)
    assert costs["relay_events_s"] == 2000.0
    assert costs["credit_ms"] == 3.0
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"credit_msec": 3.0}))
    with pytest.raises(ValueError, match="credit_msec"):
        model.load_costs([typo])


def test_every_cost_names_where_it_comes_from() -> None:
    for name, cost in model.COSTS.items():
        assert cost.value > 0 and cost.unit and cost.source, name


def test_the_script_prints_a_table_per_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    model.main([])
    printed = capsys.readouterr().out
    headers = [line.split(" tenants")[0] for line in printed.splitlines() if line[:2] == "=="]
    assert headers == ["== 10", "== 1,000", "== 10,000"]
    for name in (*model.SERVICES, *model.TOPICS):
        assert printed.count(name) >= 3
    model.main(["--tenants", "50", "--peak-factor", "5"])
    assert capsys.readouterr().out.count("== 50 tenants") == 1


def test_knob_flags_are_the_traffic_fields() -> None:
    args = model.parse_args(["--burst-joins", "7", "--peak-factor", "2.5"])
    fields = {f.name for f in dataclasses.fields(model.Traffic)} - {"tenants"}
    assert fields <= set(vars(args))
    assert args.burst_joins == 7 and args.peak_factor == 2.5


def test_docs_capacity_shows_what_the_model_prints_now(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/capacity.md pastes the default run: a change of costs or rules re-pastes it."""
    model.main([])
    printed = capsys.readouterr().out.strip()
    doc = (REPO / "docs" / "capacity.md").read_text()
    assert printed in doc, "paste `python bench/scale_model.py` into docs/capacity.md"
