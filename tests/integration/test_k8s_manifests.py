"""deploy/k8s/: every overlay renders (kubectl kustomize), is valid Kubernetes for the versions
named in deploy/README.md, and keeps the house policy; the policy check itself catches each
breach it is there for."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_k8s", REPO / "deploy" / "check_k8s.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_k8s"] = module
    spec.loader.exec_module(module)
    return module


check_k8s = _load_checker()


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    return list(check_k8s.render(REPO / "deploy" / "k8s" / "overlays" / overlay))


def fresh(overlay: str = "small") -> list[dict[str, Any]]:
    return copy.deepcopy(rendered(overlay))


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.mark.parametrize("overlay", check_k8s.OVERLAYS)
def test_overlay_is_valid_kubernetes_and_keeps_the_policy(overlay: str) -> None:
    assert check_k8s.check(overlay) == []


@pytest.mark.parametrize("overlay", check_k8s.OVERLAYS)
def test_every_service_of_the_repository_is_deployed_whole(overlay: str) -> None:
    objects = rendered(overlay)
    services = check_k8s.repository_services()
    assert "gateway" in services and len(services) >= 5
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert {o["metadata"]["name"] for o in objects if o["kind"] == kind} >= set(services)
    jobs = {o["metadata"]["name"] for o in objects if o["kind"] == "Job"}
    assert jobs >= {f"{service}-migrate" for service in services}
    for service in services:
        deployment = named(objects, "Deployment", service)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][:2] == [f"quanzi-{service}", "serve"]
        assert container["envFrom"] == [
            {"configMapRef": {"name": service}},
            {"secretRef": {"name": f"{service}-secrets"}},
        ]
        prefix = f"QUANZI_{service.upper()}_"
        config = named(objects, "ConfigMap", service)["data"]
        assert all(key.startswith(prefix) for key in config), service
        assert config[prefix + "ENVIRONMENT"] == "production"


def test_overlays_size_differently() -> None:
    def hpa(overlay: str, name: str) -> tuple[int, int]:
        spec = named(rendered(overlay), "HorizontalPodAutoscaler", name)["spec"]
        return spec["minReplicas"], spec["maxReplicas"]

    assert hpa("small", "rewards") == (1, 3)
    assert hpa("small", "gateway") == (2, 4)
    assert hpa("large", "rewards") == (3, 6)
    assert hpa("large", "gateway") == (3, 12)


def _drop_probe(objects: list[dict[str, Any]]) -> None:
    named(objects, "Deployment", "rewards")["spec"]["template"]["spec"]["containers"][0].pop(
        "readinessProbe"
    )


def _drop_limits(objects: list[dict[str, Any]]) -> None:
    container = named(objects, "Deployment", "content")["spec"]["template"]["spec"]["containers"][0]
    container["resources"].pop("limits")


def _writable_root(objects: list[dict[str, Any]]) -> None:
    job = named(objects, "Job", "onboarding-migrate")
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFilesystem"
    ] = False


def _escalation(objects: list[dict[str, Any]]) -> None:
    container = named(objects, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalation"] = True


def _keep_capabilities(objects: list[dict[str, Any]]) -> None:
    container = named(objects, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["capabilities"]["drop"] = ["NET_RAW"]


def _root(objects: list[dict[str, Any]]) -> None:
    deployment = named(objects, "Deployment", "activities")
    deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("runAsNonRoot")


def _remove(kind: str, name: str) -> Callable[[list[dict[str, Any]]], None]:
    def remove(objects: list[dict[str, Any]]) -> None:
        objects.remove(named(objects, kind, name))

    return remove


def _public_backend(objects: list[dict[str, Any]]) -> None:
    policy = named(objects, "NetworkPolicy", "backends-from-gateway")
    policy["spec"]["ingress"].append({"from": [{"namespaceSelector": {}}]})


def _open_backend(objects: list[dict[str, Any]]) -> None:
    policy = named(objects, "NetworkPolicy", "backends-from-gateway")
    policy["spec"]["ingress"].append({"ports": [{"port": 8000}]})


def _other_database(objects: list[dict[str, Any]]) -> None:
    policy = named(objects, "NetworkPolicy", "content-database")
    policy["spec"]["egress"][0]["to"][0]["podSelector"]["matchExpressions"][0]["values"] = [
        "content",
        "rewards",
    ]


def _internet(objects: list[dict[str, Any]]) -> None:
    policy = named(objects, "NetworkPolicy", "rewards-database")
    policy["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})


def _load_balancer(objects: list[dict[str, Any]]) -> None:
    named(objects, "Service", "onboarding")["spec"]["type"] = "LoadBalancer"


def _ingress_to_backend(objects: list[dict[str, Any]]) -> None:
    ingress = named(objects, "Ingress", "gateway")
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    path["backend"]["service"]["name"] = "rewards"


def _no_upstream(objects: list[dict[str, Any]]) -> None:
    config = named(objects, "ConfigMap", "gateway")["data"]
    config["QUANZI_GATEWAY_UPSTREAMS"] = '{"onboarding": "http://onboarding:8000"}'


def _fixed_replicas(objects: list[dict[str, Any]]) -> None:
    named(objects, "Deployment", "rewards")["spec"]["replicas"] = 3


def _no_pre_stop(objects: list[dict[str, Any]]) -> None:
    container = named(objects, "Deployment", "rewards")["spec"]["template"]["spec"]["containers"][0]
    container.pop("lifecycle")


BREACHES: dict[str, tuple[Callable[[list[dict[str, Any]]], None], str]] = {
    "no readiness probe": (_drop_probe, "Deployment/rewards: readinessProbe must GET /readyz"),
    "no limits": (_drop_limits, "Deployment/content container server: no limits.cpu"),
    "writable root": (_writable_root, "readOnlyRootFilesystem must be true"),
    "privilege escalation": (_escalation, "allowPrivilegeEscalation must be false"),
    "capabilities kept": (_keep_capabilities, "capabilities must drop ALL"),
    "root": (_root, "Deployment/activities container server: runAsNonRoot must be true"),
    "no PDB": (
        _remove("PodDisruptionBudget", "content"),
        "Deployment/content: no PodDisruptionBudget",
    ),
    "no HPA": (
        _remove("HorizontalPodAutoscaler", "rewards"),
        "Deployment/rewards: no HorizontalPodAutoscaler",
    ),
    "no migration": (
        _remove("Job", "onboarding-migrate"),
        "no Job running `quanzi-onboarding migrate`",
    ),
    "no service": (_remove("Deployment", "activities"), "service 'activities' has no Deployment"),
    "no default deny": (_remove("NetworkPolicy", "default-deny"), "no default-deny NetworkPolicy"),
    "backend public": (_public_backend, "only gateway is public"),
    "backend open": (_open_backend, "lets anyone reach"),
    "another database": (_other_database, "content: reaches PostgreSQL pods other than its own"),
    "no database policy": (
        _remove("NetworkPolicy", "rewards-database"),
        "rewards: no NetworkPolicy lets it reach its database",
    ),
    "internet": (_internet, "lets rewards reach addresses outside"),
    "load balancer": (_load_balancer, "Service/onboarding: type LoadBalancer"),
    "ingress to a backend": (_ingress_to_backend, "routes to rewards"),
    "gateway misses an upstream": (_no_upstream, "QUANZI_GATEWAY_UPSTREAMS lacks"),
    "fixed replicas": (_fixed_replicas, "sets replicas"),
    "no preStop": (_no_pre_stop, "no preStop sleep"),
}


@pytest.mark.parametrize("breach", sorted(BREACHES))
def test_policy_catches(breach: str) -> None:
    spoil, expected = BREACHES[breach]
    objects = fresh()
    assert check_k8s.policy_errors(objects, check_k8s.repository_services()) == []
    spoil(objects)
    errors = check_k8s.policy_errors(objects, check_k8s.repository_services())
    assert any(expected in error for error in errors), errors


def test_schema_validation_refuses_what_the_api_server_would() -> None:
    objects = fresh()
    deployment = named(objects, "Deployment", "rewards")
    assert check_k8s.schema_errors([deployment], check_k8s.KUBERNETES_VERSION) == []
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = [
        8000
    ]
    deployment["spec"]["template"]["spec"]["unknownField"] = True
    errors = check_k8s.schema_errors([deployment], check_k8s.KUBERNETES_VERSION)
    assert len(errors) == 1 and errors[0].startswith("Deployment/rewards: ")


def test_label_selectors_match_as_kubernetes_does() -> None:
    matches = check_k8s.matches
    labels = {"app.kubernetes.io/name": "rewards", "app.kubernetes.io/component": "server"}
    assert matches({}, labels)
    assert matches({"matchLabels": {"app.kubernetes.io/name": "rewards"}}, labels)
    assert not matches({"matchLabels": {"app.kubernetes.io/name": "gateway"}}, labels)
    not_gateway = {
        "matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["gateway"]}
        ]
    }
    assert matches(not_gateway, labels)
    assert not matches(not_gateway, {**labels, "app.kubernetes.io/name": "gateway"})
    assert matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, labels)
    assert not matches({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, labels)
    assert not matches(None, labels)
