"""deploy/: the image, the compose file and the Kubernetes manifests hold together, offline.

The kustomize overlays are rendered by a small renderer below that knows exactly the kustomize
features deploy/k8s uses (and refuses any other), and every resource is validated against the
Kubernetes JSON schemas that `kubernetes-validate` ships. Where a real `kustomize` (or
`kubectl kustomize`) is installed, its output must equal the renderer's. The compose file is
checked with `docker compose config` where that works, and always against a schema of its own.
"""

from __future__ import annotations

import base64
import copy
import http.server
import math
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from jsonschema import Draft202012Validator

from deploy.local import ROOT, SERVICES, free_port
from services.runtime.config import Env, ServiceConfig
from services.runtime.service_auth import CALLERS, GATEWAY, SECRET_VARIABLE
from tests.support import unavailable

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "production")
IMAGE = "loyalty-club"
PORTS = {"identity": 50051, "points": 50052, "campaigns": 50053, "webhooks": 50054}
# The processes that keep derived data in Redis (webhooks keeps nothing there).
CACHE_USERS = ("identity", "points", "campaigns", "gateway")
GATEWAY_PORT = 8080
METRICS_PORT = 9464
# The Kubernetes releases the manifests must be valid for: the oldest supported, the newest known.
K8S_VERSIONS = ("1.28", "latest")
PLACEHOLDER = re.compile(r"REPLACE_ME|dev-only", re.I)
GUNICORN_GRACE_SECONDS = 10  # gateway/__main__.py: graceful_timeout
PRESTOP_SECONDS = 5


# --- a renderer for the subset of kustomize deploy/k8s uses ------------------------------------

KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "images",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}
# Strategic merge: lists of these are merged item by item on the key; other lists are replaced.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[dict]:
    """What `kustomize build directory` gives, except for the generators' name hashes."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    assert not unknown, f"{directory}: teach the test's renderer {sorted(unknown)}"
    resources: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else load_documents(path)
    options = kustomization.get("generatorOptions", {})
    for kind, generators in (
        ("ConfigMap", kustomization.get("configMapGenerator", [])),
        ("Secret", kustomization.get("secretGenerator", [])),
    ):
        for generator in generators:
            generate(directory, kind, generator, options, resources)
    for patch in kustomization.get("patches", []):
        assert set(patch) <= {"path", "patch"}, f"only plain strategic merge patches: {patch}"
        text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
        for doc in yaml.safe_load_all(text):
            target = find(resources, doc["kind"], doc["metadata"]["name"])
            strategic_merge(target, doc)
    for image in kustomization.get("images", []):
        set_image(resources, image)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def find(resources: list[dict], kind: str, name: str) -> dict:
    matches = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(matches) == 1, f"{len(matches)} {kind} named {name}"
    return matches[0]


def generate(directory: Path, kind: str, generator: dict, options: dict, out: list[dict]) -> None:
    known = {"name", "behavior", "envs", "literals", "files", "options"}
    assert set(generator) <= known, f"teach the test's renderer {set(generator) - known}"
    data: dict[str, str] = {}
    for env_file in generator.get("envs", []):
        for line in (directory / env_file).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                data[key.strip()] = value
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for file in generator.get("files", []):
        key, _, path = file.rpartition("=")
        data[key or Path(path).name] = (directory / path).read_text()
    labels = {**options.get("labels", {}), **generator.get("options", {}).get("labels", {})}
    behavior = generator.get("behavior", "create")
    if behavior == "create":
        resource: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": generator["name"]},
            "data": {},
        }
        if kind == "Secret":
            resource["type"] = "Opaque"
        out.append(resource)
    else:
        resource = find(out, kind, generator["name"])
        if behavior == "replace":
            resource["data"] = {}
    if labels:
        resource["metadata"].setdefault("labels", {}).update(labels)
    if kind == "Secret":
        data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    resource["data"].update(data)


def strategic_merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            strategic_merge(target[key], value)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(target.get(key), list):
            merge_key = MERGE_KEYS[key]
            for item in value:
                same = [t for t in target[key] if t.get(merge_key) == item.get(merge_key)]
                if same:
                    strategic_merge(same[0], item)
                else:
                    target[key].append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def set_image(resources: list[dict], image: dict) -> None:
    for container in all_containers(resources):
        name, _, tag = container["image"].partition(":")
        if name == image["name"]:
            name = image.get("newName", name)
            tag = str(image.get("newTag", tag))
            container["image"] = f"{name}:{tag}" if tag else name


def pod_spec(resource: dict) -> dict | None:
    if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return resource["spec"]["template"]["spec"]
    if resource["kind"] == "CronJob":
        return resource["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def all_containers(resources: list[dict]) -> Iterator[dict]:
    for resource in resources:
        spec = pod_spec(resource)
        if spec:
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def k8s_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/k8s with each overlay's uncommitted secrets.env made from its example."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    for example in tree.glob("overlays/*/secrets.env.example"):
        shutil.copy(example, example.with_name("secrets.env"))
    return tree


@pytest.fixture(scope="module")
def rendered(k8s_tree: Path) -> dict[str, list[dict]]:
    return {overlay: render(k8s_tree / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        unavailable("the kubernetes-validate package (`make install`)")
    return kubernetes_validate


def documented_variables() -> set[str]:
    """Every variable of the configuration table (docs/configuration.md)."""
    readme = (ROOT / "docs" / "configuration.md").read_text()
    section = readme.split("\n## Environment variables", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        for name in re.findall(r"`([A-Z<][A-Z0-9_<>]*)`", line.split("|")[1]):
            if name.startswith("<SERVICE>"):
                names |= {s.upper() + name.removeprefix("<SERVICE>") for s in SERVICES}
            else:
                names.add(name)
    assert {"GATEWAY_PORT", "IDENTITY_PII_KEY", "POINTS_DATABASE_URL"} <= names
    return names


def app_containers(resources: list[dict]) -> Iterator[tuple[dict, dict]]:
    for resource in resources:
        spec = pod_spec(resource)
        for container in spec["containers"] if spec else []:
            if container["image"].rpartition("/")[2].split(":")[0] == IMAGE:
                yield resource, container


def decoded(secret: dict) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}


def is_placeholder(value: str) -> bool:
    if "://" in value:
        password = urlparse(value).password
        return password is None or bool(PLACEHOLDER.search(password))
    return bool(PLACEHOLDER.search(value))


def module_exists(module: str) -> bool:
    path = ROOT / module.replace(".", "/")
    return (path / "__main__.py").is_file() or path.with_suffix(".py").is_file()


def check_python_command(command: list[str], where: str) -> None:
    assert command[:2] == ["python", "-m"], f"{where}: {command}"
    module, args = command[2], command[3:]
    assert module_exists(module), f"{where}: no module {module}"
    if module.startswith("services."):
        assert module.removeprefix("services.") in SERVICES, where
        assert args in ([], ["serve"], ["migrate"]), f"{where}: {command}"
    else:
        assert (module, args) == ("gateway", []), f"{where}: {command}"


# --- Kubernetes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_is_valid_kubernetes(
    overlay: str, rendered: dict[str, list[dict]], kubernetes_validate: Any
) -> None:
    resources = rendered[overlay]
    assert resources
    latest = kubernetes_validate.latest_version()
    for version in K8S_VERSIONS:
        for resource in resources:
            where = f"{overlay}: {resource['kind']}/{resource['metadata']['name']}"
            try:
                kubernetes_validate.validate(
                    resource, latest if version == "latest" else version, strict=True
                )
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                pytest.fail(f"{where} is not valid for {version}: {path}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                pytest.fail(f"{where}: {error.message}")


def test_every_manifest_file_is_used_by_a_kustomization() -> None:
    used = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        used |= {(kustomization.parent / r).resolve() for r in spec.get("resources", [])}
        patches = [p["path"] for p in spec.get("patches", []) if "path" in p]
        used |= {(kustomization.parent / path).resolve() for path in patches}
    manifests = {p.resolve() for p in K8S.rglob("*.yaml")} - {
        p.resolve() for p in K8S.rglob("kustomization.yaml")
    }
    assert manifests - used == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_renderer_agrees_with_kustomize(overlay: str, k8s_tree: Path) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    result = subprocess.run(
        [*command, str(k8s_tree / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    real = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    # Generated names carry a hash of their content; the renderer leaves it out.
    hashed = {
        r["metadata"]["name"]: r["metadata"]["name"].rsplit("-", 1)[0]
        for r in real
        if r["kind"] in ("ConfigMap", "Secret")
        and re.search(r"-[a-z0-9]{10}$", r["metadata"]["name"])
    }

    def unhash(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: unhash(v) for k, v in node.items()}
        if isinstance(node, list):
            return [unhash(v) for v in node]
        return hashed.get(node, node) if isinstance(node, str) else node

    def by_name(resources: list[dict]) -> dict[tuple[str, str], dict]:
        # Secrets compared decoded: kustomize may wrap long base64 lines.
        return {
            (r["kind"], r["metadata"]["name"]): {**r, "data": decoded(r)}
            if r["kind"] == "Secret"
            else r
            for r in resources
        }

    assert by_name([unhash(r) for r in real]) == by_name(render(k8s_tree / "overlays" / overlay))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_have_probes_resources_and_a_long_enough_grace(
    overlay: str, rendered: dict[str, list[dict]]
) -> None:
    deployments = {r["metadata"]["name"]: r for r in rendered[overlay] if r["kind"] == "Deployment"}
    assert {*SERVICES, "gateway"} <= set(deployments)
    for resource in rendered[overlay]:
        spec = pod_spec(resource)
        if resource["kind"] not in ("Deployment", "StatefulSet") or not spec:
            continue
        for container in spec["containers"]:
            where = f"{overlay}: {resource['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container, where
            assert "livenessProbe" in container, where
            requests = container.get("resources", {}).get("requests", {})
            assert {"cpu", "memory"} <= set(requests), where
            assert "memory" in container["resources"].get("limits", {}), where
    for name in SERVICES:
        spec = pod_spec(deployments[name])
        assert spec is not None
        (container,) = spec["containers"]
        port = PORTS[name]
        assert container["ports"] == [
            {"name": "grpc", "containerPort": port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": port}, f"{name} {probe}"
        grace = ServiceConfig.load(name, Env({})).grace_seconds
        assert spec["terminationGracePeriodSeconds"] > PRESTOP_SECONDS + grace
        assert container["lifecycle"]["preStop"]["exec"]["command"] == [
            "sleep",
            str(PRESTOP_SECONDS),
        ]
    gateway = pod_spec(deployments["gateway"])
    assert gateway is not None
    (container,) = gateway["containers"]
    assert container["ports"][0]["containerPort"] == GATEWAY_PORT
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["terminationGracePeriodSeconds"] > PRESTOP_SECONDS + GUNICORN_GRACE_SECONDS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_app_pods_are_locked_down(overlay: str, rendered: dict[str, list[dict]]) -> None:
    dockerfile_user = re.search(r"^USER (\d+):(\d+)$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert dockerfile_user, "the image runs as a numeric, non-root user"
    for resource, container in app_containers(rendered[overlay]):
        spec = pod_spec(resource)
        assert spec is not None
        where = f"{overlay}: {resource['kind']}/{resource['metadata']['name']}"
        # Service links would set GATEWAY_PORT=tcp://... in every pod next to a Service `gateway`.
        assert spec["enableServiceLinks"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert str(spec["securityContext"]["runAsUser"]) == dockerfile_user.group(1), where
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_autoscalers_and_budgets_find_their_pods(
    overlay: str, rendered: dict[str, list[dict]]
) -> None:
    resources = rendered[overlay]
    deployments = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}
    for name in (*SERVICES, "gateway"):
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = deployments[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items()
        # The autoscaler owns the replica count; a replicas field would fight it on every apply.
        assert "replicas" not in deployments[name]["spec"], name
        service = find(resources, "Service", name)
        assert service["spec"]["selector"].items() <= pod_labels.items()
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
        hpa = find(resources, "HorizontalPodAutoscaler", name)
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        pdb = find(resources, "PodDisruptionBudget", name)
        assert pdb["apiVersion"] == "policy/v1"
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        # maxUnavailable, not minAvailable: a budget that still lets one replica drain.
        assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_addresses_config_and_secret_references_resolve(
    overlay: str, rendered: dict[str, list[dict]]
) -> None:
    resources = rendered[overlay]
    documented = documented_variables()
    config = find(resources, "ConfigMap", "loyalty-config")["data"]
    secret = decoded(find(resources, "Secret", "loyalty-secrets"))
    services = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Service"}
    # Where the others find each service: its Service, on its port.
    for name, port in PORTS.items():
        addr = Env(config).addr(f"{name.upper()}_ADDR", "")
        assert addr == f"{name}:{port}"
        assert [p["port"] for p in services[name]["spec"]["ports"]] == [port]
    assert int(config["GATEWAY_PORT"]) == GATEWAY_PORT
    for name in (*PORTS, "gateway"):
        assert int(config[f"{name.upper()}_METRICS_PORT"]) == METRICS_PORT
    for resource, container in app_containers(resources):
        where = f"{overlay}: {resource['metadata']['name']}"
        names = set()
        for source in container.get("envFrom", []):
            assert set(source) == {"configMapRef"}, where
            names |= set(find(resources, "ConfigMap", source["configMapRef"]["name"])["data"])
        for variable in container.get("env", []):
            names.add(variable["name"])
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in decoded(find(resources, "Secret", ref["name"])), where
        assert names <= documented, f"{where}: not in docs/configuration.md: {names - documented}"
        own = {v["name"]: v.get("value") for v in container.get("env", [])}
        service = container["command"][2].removeprefix("services.")
        if service in PORTS and container["command"][3:] == []:
            # The service itself listens on every interface of its pod.
            variable = f"{service.upper()}_ADDR"
            assert Env(own).addr(variable, "") == f"0.0.0.0:{PORTS[service]}", where
    # Database and cache URLs name a Service of this overlay or a host outside the cluster.
    for key, value in secret.items():
        if "://" in value:
            host = urlparse(value).hostname or ""
            assert "." in host or host in services, f"{overlay}: {key} points at {host}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_hold_placeholders_only(overlay: str, rendered: dict[str, list[dict]]) -> None:
    secrets = [r for r in rendered[overlay] if r["kind"] == "Secret"]
    assert secrets
    for secret in secrets:
        assert "stringData" not in secret
        for key, value in decoded(secret).items():
            assert is_placeholder(value), f"{overlay}: {key} looks like a real secret"


def test_secret_files_are_examples_or_ignored() -> None:
    examples = [*DEPLOY.rglob("*.example")]
    assert {p.name for p in examples} == {"compose.env.example", "secrets.env.example"}
    for example in examples:
        for line in example.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                assert is_placeholder(value), f"{example.name}: {key}"
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert "/.env" in ignored and "/k8s/overlays/*/secrets.env" in ignored
    # Nothing that looks like a token or key anywhere under deploy/.
    for path in DEPLOY.rglob("*"):
        if path.is_file() and not ignored_by_the_scan(path):
            for word in re.findall(r"[A-Za-z0-9_+-]{20,}", path.read_text()):
                assert not looks_like_a_key(word), f"{path.relative_to(ROOT)}: {word}"


def ignored_by_the_scan(path: Path) -> bool:
    # Code, and the operator's own filled-in secret files (ignored by git).
    return path.suffix in (".py", ".pyc") or path.name in (".env", "secrets.env")


def looks_like_a_key(word: str) -> bool:
    if re.fullmatch(r"[0-9a-f]{32,}", word):
        return True
    kinds = sum(bool(re.search(chars, word)) for chars in ("[a-z]", "[A-Z]", "[0-9]"))
    entropy = -sum(
        word.count(c) / len(word) * math.log2(word.count(c) / len(word)) for c in set(word)
    )
    return kinds == 3 and entropy > 3.5


def test_migrations_run_as_one_job_per_service(rendered: dict[str, list[dict]]) -> None:
    for overlay in OVERLAYS:
        jobs = [r for r in rendered[overlay] if r["kind"] == "Job"]
        commands = sorted(c["command"] for _, c in app_containers(jobs))
        assert commands == sorted(["python", "-m", f"services.{s}", "migrate"] for s in SERVICES)
        for job in jobs:
            assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
            labels = job["metadata"]["labels"]
            assert labels["app.kubernetes.io/component"] == "migration"


def test_the_dev_database_matches_the_compose_one(rendered: dict[str, list[dict]]) -> None:
    init = (DEPLOY / "compose" / "postgres-init.sql").read_text()
    assert (K8S / "overlays" / "dev" / "postgres-init.sql").read_text() == init
    assert sorted(re.findall(r"CREATE DATABASE (\w+);", init)) == sorted(SERVICES)
    secret = decoded(find(rendered["dev"], "Secret", "loyalty-secrets"))
    for name in SERVICES:
        url = urlparse(secret[f"{name.upper()}_DATABASE_URL"])
        assert (url.hostname, url.port, url.path) == ("postgres", 5432, f"/{name}")
        assert url.password == secret["POSTGRES_PASSWORD"]


# --- who may reach whom --------------------------------------------------------------------------

MONITORING = {"kubernetes.io/metadata.name": "monitoring"}


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector picks an object with `labels`."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        assert operator in ("In", "NotIn", "Exists", "DoesNotExist"), operator
        present = key in labels
        value = labels.get(key)
        if (
            (operator == "In" and value not in expression["values"])
            or (operator == "NotIn" and value in expression["values"])
            or (operator == "Exists" and not present)
            or (operator == "DoesNotExist" and present)
        ):
            return False
    return True


def pod_labels_by_name(resources: list[dict]) -> dict[str, dict[str, str]]:
    return {
        r["metadata"]["name"]: r["spec"]["template"]["metadata"]["labels"]
        for r in resources
        if r["kind"] in ("Deployment", "StatefulSet", "Job")
    }


def peer_matches(peer: dict, labels: dict[str, str], namespace: dict[str, str]) -> bool:
    """Whether one `from`/`to` entry names a pod with `labels` in a namespace with `namespace`
    labels; `namespace` is {} for the suite's own namespace."""
    assert "ipBlock" not in peer, "teach the test ipBlock"
    if "namespaceSelector" not in peer:
        return namespace == {} and selects(peer["podSelector"], labels)
    return selects(peer["namespaceSelector"], namespace) and selects(
        peer.get("podSelector", {}), labels
    )


def allowed(
    resources: list[dict],
    direction: str,
    pod: dict[str, str],
    port: int,
    other: dict[str, str] | None = None,
    other_namespace: dict[str, str] | None = None,
) -> bool:
    """Whether the NetworkPolicies let `pod` receive (Ingress) or send (Egress) a connection on
    `port` from or to `other` (a pod of the suite's namespace, or of `other_namespace`; None
    for anywhere outside the cluster)."""
    key = "from" if direction == "Ingress" else "to"
    selected = [
        r["spec"]
        for r in resources
        if r["kind"] == "NetworkPolicy"
        and direction in r["spec"]["policyTypes"]
        and selects(r["spec"]["podSelector"], pod)
    ]
    assert selected, f"no {direction} policy selects {pod}: everything would be let through"
    for spec in selected:
        for rule in spec.get(direction.lower(), []):
            ports = rule.get("ports")
            if ports is not None:
                assert all(isinstance(p["port"], int) for p in ports), "numeric ports only"
                if port not in {p["port"] for p in ports}:
                    continue
            peers = rule.get(key)
            if peers is None:
                return True
            if other is not None and any(
                peer_matches(peer, other, other_namespace or {}) for peer in peers
            ):
                return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_admit_only_the_callers_of_each_service(
    overlay: str, rendered: dict[str, list[dict]]
) -> None:
    resources = rendered[overlay]
    pods = pod_labels_by_name(resources)
    stranger = {"app.kubernetes.io/name": "stranger"}
    everyone = {**pods, "stranger": stranger}
    for service, port in PORTS.items():
        callers = set(CALLERS[service])
        for name, labels in everyone.items():
            admitted = allowed(resources, "Ingress", pods[service], port, labels)
            assert admitted == (name in callers), f"{overlay}: {name} -> {service}"
            if name in pods:
                sends = allowed(resources, "Egress", labels, port, pods[service])
                assert sends == (name in callers), f"{overlay}: {name} sends to {service}"
        # Nothing from another namespace or outside the cluster reaches a service.
        assert not allowed(resources, "Ingress", pods[service], port, stranger, {"x": "y"})
        assert not allowed(resources, "Ingress", pods[service], port)
        assert not allowed(resources, "Ingress", pods[service], METRICS_PORT, pods[GATEWAY])
    # The gateway is the one door in, on its HTTP port, from anywhere.
    assert allowed(resources, "Ingress", pods[GATEWAY], GATEWAY_PORT)
    for name in (*PORTS, GATEWAY):
        assert allowed(resources, "Ingress", pods[name], METRICS_PORT, {}, MONITORING), name
        assert not allowed(resources, "Ingress", pods[name], METRICS_PORT, stranger), name
        assert allowed(resources, "Egress", pods[name], 53), f"{name} resolves names"
        uses_cache = allowed(resources, "Egress", pods[name], 6379, pods.get("redis"))
        assert uses_cache == (name in CACHE_USERS), name
    for name, labels in pods.items():
        if name in PORTS or labels.get("app.kubernetes.io/component") == "migration":
            assert allowed(resources, "Egress", labels, 5432, pods.get("postgres")), name
    assert not allowed(resources, "Egress", pods[GATEWAY], 5432, pods.get("postgres"))
    if overlay == "dev":
        database_users = {n for n in pods if n in PORTS or n.startswith("migrate-")}
        for name, labels in everyone.items():
            admitted = allowed(resources, "Ingress", pods["postgres"], 5432, labels)
            assert admitted == (name in database_users), f"{name} -> postgres"
            admitted = allowed(resources, "Ingress", pods["redis"], 6379, labels)
            assert admitted == (name in CACHE_USERS), f"{name} -> redis"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_that_calls_or_serves_grpc_has_the_service_secret(
    overlay: str, rendered: dict[str, list[dict]], compose: dict
) -> None:
    resources = rendered[overlay]
    secret = decoded(find(resources, "Secret", "loyalty-secrets"))
    assert SECRET_VARIABLE in secret
    with_it = set()
    for resource, container in app_containers(resources):
        for variable in container.get("env", []):
            if variable["name"] == SECRET_VARIABLE:
                ref = variable["valueFrom"]["secretKeyRef"]
                assert ref == {"name": "loyalty-secrets", "key": SECRET_VARIABLE}
                with_it.add(resource["metadata"]["name"])
    # The migrations talk to their database only: they go without.
    assert with_it == {*SERVICES, GATEWAY}
    services = compose["services"]
    assert {n for n, s in services.items() if SECRET_VARIABLE in s.get("environment", {})} == {
        *SERVICES,
        GATEWAY,
    }


# --- the image -----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_image_generates_the_grpc_code_like_make_protos() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(arg for op, arg in instructions if op == "RUN")
    makefile = (ROOT / "Makefile").read_text()
    make_flags = re.search(r"grpc_tools\.protoc (.*?) \$\(PROTOS\)", makefile)
    image_flags = re.search(r"grpc_tools\.protoc (.*?) \$\(find protos -name '\*\.proto'\)", runs)
    assert make_flags and image_flags
    assert image_flags.group(1) == make_flags.group(1)
    assert r"find loyalty -type d -exec touch {}/__init__.py \;" in runs
    assert "pip install --no-deps -e ." in runs
    assert ("CMD", '["python", "-m", "gateway"]') in instructions
    user = [arg for op, arg in instructions if op == "USER"]
    assert user and not user[-1].startswith(("0", "root"))


def test_the_image_gets_every_source_it_copies() -> None:
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "an allow-list: everything is left out but what is named"
    allowed = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    for op, arg in dockerfile_instructions():
        if op == "COPY":
            *sources, _destination = shlex.split(arg)
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source in allowed, f"{source} is not sent to the builder"


def test_every_entry_point_named_is_a_module_of_the_repository(
    rendered: dict[str, list[dict]], compose: dict
) -> None:
    seen = set()
    for overlay in OVERLAYS:
        for resource, container in app_containers(rendered[overlay]):
            check_python_command(container["command"], f"{overlay}: {resource['metadata']['name']}")
            seen.add(tuple(container["command"]))
    for name, service in compose["services"].items():
        if "build" in service:
            check_python_command(service["command"], f"compose: {name}")
            seen.add(tuple(service["command"]))
    cmd = [arg for op, arg in dockerfile_instructions() if op == "CMD"][-1]
    check_python_command(yaml.safe_load(cmd), "Dockerfile CMD")
    expected = {("python", "-m", "gateway")}
    for service in SERVICES:
        expected |= {("python", "-m", f"services.{service}", *a) for a in ((), ("migrate",))}
    assert seen == expected


# --- compose -------------------------------------------------------------------------------------

DURATION = {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"}
COMPOSE_SERVICE = {
    "type": "object",
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
    "additionalProperties": False,
    "properties": {
        "image": {"type": "string"},
        "build": {
            "type": "object",
            "required": ["context", "dockerfile"],
            "additionalProperties": False,
            "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
        },
        "command": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "environment": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]*$"},
        },
        "depends_on": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["condition"],
                "additionalProperties": False,
                "properties": {
                    "condition": {
                        "enum": [
                            "service_started",
                            "service_healthy",
                            "service_completed_successfully",
                        ]
                    }
                },
            },
        },
        "healthcheck": {
            "type": "object",
            "required": ["test"],
            "additionalProperties": False,
            "properties": {
                "test": {
                    "type": "array",
                    "items": {"type": "string"},
                    "prefixItems": [{"enum": ["CMD", "CMD-SHELL"]}],
                    "minItems": 2,
                },
                "interval": DURATION,
                "timeout": DURATION,
                "start_period": DURATION,
                "retries": {"type": "integer", "minimum": 1},
            },
        },
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
        "ports": {"type": "array", "items": {"type": "string"}},
        "volumes": {"type": "array", "items": {"type": "string"}},
        "read_only": {"type": "boolean"},
        "tmpfs": {"type": "array", "items": {"type": "string"}},
        "cap_drop": {"type": "array", "items": {"type": "string"}},
        "security_opt": {"type": "array", "items": {"type": "string"}},
        "stop_grace_period": DURATION,
    },
}
COMPOSE_SCHEMA = {
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {"type": "object", "additionalProperties": COMPOSE_SERVICE, "minProperties": 1},
        "volumes": {"type": "object"},
    },
}


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h)", duration))


def interpolated(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def test_compose_file_has_the_expected_shape(compose: dict) -> None:
    errors = sorted(
        Draft202012Validator(COMPOSE_SCHEMA).iter_errors(compose), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
            else:
                assert source in compose.get("volumes", {}), f"{name}: volume {source}"
    assert services["postgres"]["image"].split(":")[1].startswith("15")
    assert services["redis"]["image"].split(":")[1].startswith("7")


def test_compose_runs_migrations_first_and_waits_for_health(compose: dict) -> None:
    services = compose["services"]
    app = {name: s for name, s in services.items() if "build" in s}
    for name in SERVICES:
        migrate = services[f"migrate-{name}"]
        assert migrate["command"] == ["python", "-m", f"services.{name}", "migrate"]
        assert migrate["restart"] == "no"
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"][f"migrate-{name}"] == {
            "condition": "service_completed_successfully"
        }
        assert services["gateway"]["depends_on"][name] == {"condition": "service_healthy"}
        assert "health_pb2" in " ".join(services[name]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])
    for name, service in app.items():
        if not name.startswith("migrate-"):
            assert "healthcheck" in service, name
            grace = GUNICORN_GRACE_SECONDS
            if name in SERVICES:
                grace = ServiceConfig.load(name, Env({})).grace_seconds
            assert seconds(service["stop_grace_period"]) > grace, name
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_compose_configures_the_processes_as_the_readme_says(compose: dict) -> None:
    documented = documented_variables()
    services = compose["services"]
    for name, service in services.items():
        if "build" not in service:
            continue
        environment = service["environment"]
        assert set(environment) <= documented, f"{name}: {set(environment) - documented}"
        for variable, value in environment.items():
            if variable.endswith("_ADDR"):
                assert Env({variable: value}).addr(variable, "")
                target = variable.removesuffix("_ADDR").lower()
                port = PORTS[target]
                expected = f"0.0.0.0:{port}" if target == name else f"{target}:{port}"
                assert value == expected, f"{name}: {variable}={value}"
                assert target in services
            if variable.endswith("_DATABASE_URL"):
                assert variable == f"{name.removeprefix('migrate-').upper()}_DATABASE_URL"
                url = urlparse(re.sub(r"\$\{[^}]*\}", "interpolated", value))
                assert url.scheme == "postgresql" and url.hostname == "postgres"
                assert url.path == "/" + name.removeprefix("migrate-")
            if variable in ("LOYALTY_ADMIN_TOKEN", "IDENTITY_PII_KEY", SECRET_VARIABLE):
                assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", value), f"{name}: {variable}"
        if name in SERVICES:
            assert f"{name.upper()}_ADDR" in environment
    gateway = services["gateway"]["environment"]
    assert {f"{s.upper()}_ADDR" for s in SERVICES} <= set(gateway)
    assert gateway["GATEWAY_PORT"] == str(GATEWAY_PORT)
    assert services["gateway"]["ports"][0].endswith(f":{GATEWAY_PORT}")
    assert services["points"]["environment"]["CAMPAIGNS_ADDR"] == "campaigns:50053"


def test_compose_variables_are_documented(compose: dict) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    variables = interpolated(text)
    operator_guide = (DEPLOY / "README.md").read_text()
    documented = documented_variables()
    for variable in variables - documented:
        assert f"`{variable}`" in operator_guide, f"{variable} is not in deploy/README.md"
    example = (DEPLOY / "compose.env.example").read_text()
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    assert required == {
        "POSTGRES_PASSWORD",
        "LOYALTY_ADMIN_TOKEN",
        "IDENTITY_PII_KEY",
        "WEBHOOKS_SECRET_KEY",
        SECRET_VARIABLE,
    }
    for variable in variables:
        assert re.search(rf"^#? ?{variable}=", example, re.M), f"{variable} not in the example"


def run_healthcheck(test: list[str], old: str, new: str) -> int:
    assert test[:2] == ["CMD", "python"]
    command = [sys.executable, *(arg.replace(old, new) for arg in test[2:])]
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def test_compose_grpc_healthcheck_follows_the_health_service(compose: dict) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        for name in SERVICES:
            test = compose["services"][name]["healthcheck"]["test"]
            listen = f"127.0.0.1:{PORTS[name]}"
            servicer.set("", health_pb2.HealthCheckResponse.SERVING)
            assert run_healthcheck(test, listen, f"127.0.0.1:{port}") == 0, name
            servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
            assert run_healthcheck(test, listen, f"127.0.0.1:{port}") == 1, name
        assert run_healthcheck(test, listen, f"127.0.0.1:{free_port()}") != 0
    finally:
        server.stop(None)


def test_compose_gateway_healthcheck_follows_readyz(compose: dict) -> None:
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state["status"] if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    test = compose["services"]["gateway"]["healthcheck"]["test"]
    address = f"127.0.0.1:{server.server_address[1]}"
    try:
        assert run_healthcheck(test, f"127.0.0.1:{GATEWAY_PORT}", address) == 0
        state["status"] = 503
        assert run_healthcheck(test, f"127.0.0.1:{GATEWAY_PORT}", address) != 0
    finally:
        server.shutdown()
        server.server_close()
