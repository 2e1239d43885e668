"""The deployment files agree with the code: ports, setting names, probes, commands, secrets.

docker-compose.yml, infra/docker/Dockerfile and infra/k8s/ are not run by the test suite (no
container engine or cluster is assumed); these tests keep them from drifting away from the code.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.api.settings import ApiSettings
from services.meetings.settings import MeetingsSettings
from services.notifications.settings import NotificationsSettings
from shared.settings import DEV_SECRET_KEY, DEV_SERVICE_SECRET, ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = INFRA / "docker" / "Dockerfile"

SERVICE_PORTS = {"api": 8000, "meetings": 8001, "notifications": 8002}
FACTORIES = {name: f"services.{name}.main:create_app" for name in SERVICE_PORTS}
WORKER_COMMAND = ["python", "-m", "services.notifications.worker"]
MIGRATE_COMMAND = ["python", "-m", "shared.migrate"]
SETTINGS_OF: dict[str, tuple[type[ServiceSettings], ...]] = {
    "api": (ApiSettings,),
    "meetings": (MeetingsSettings,),
    "notifications": (NotificationsSettings,),
    "notification-worker": (NotificationsSettings,),
    "migrate": (ApiSettings, MeetingsSettings, NotificationsSettings),
}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|DATABASE_URL|_KEY$|_TOKEN$")
SETTING_NAME = re.compile(r"\bLINGKAR_[A-Z0-9_]+\b")
SECRET_LIKE_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{32,}")
INTERPOLATION_REQUIRED = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]+\}$")
COMPOSE_DATABASE_URL = re.compile(
    r"^postgresql://lingkar:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/"
)

K8S_FILES = sorted(K8S.glob("*.yaml"))
DEPLOY_FILES = [*K8S_FILES, COMPOSE]


# --- loading -------------------------------------------------------------------------------


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    return [doc for path in K8S_FILES for doc in load_all(path)]


def k8s_object(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind} {name!r} in infra/k8s, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: expected one container"
    return containers[0]


def port_flag(command: list[str]) -> int:
    assert "--port" in command, f"no --port in {command}"
    return int(command[command.index("--port") + 1])


def assert_no_websocket(command: list[str]) -> None:
    """No service speaks WebSocket; left on `auto`, uvicorn imports the websockets library
    at start all the same (2.3 MB resident per process, measured)."""
    assert "--ws" in command, f"no --ws in {command}"
    assert command[command.index("--ws") + 1] == "none", command


def valid_setting_names() -> set[str]:
    classes = (ApiSettings, MeetingsSettings, NotificationsSettings)
    return {"LINGKAR_" + name.upper() for cls in classes for name in cls.model_fields}


def checked_secrets(*classes: type[ServiceSettings]) -> set[str]:
    """The secrets the settings refuse to run without in production, plus the database URL."""
    names = {"LINGKAR_DATABASE_URL"}
    for cls in classes:
        names |= set(cls.model_construct().secrets_to_check())
    return names


def looks_like_secret(token: str) -> bool:
    return (
        "REPLACE" not in token
        and any(c.isdigit() for c in token)
        and any(c.isalpha() for c in token)
    )


def deploy_texts() -> dict[str, str]:
    paths = [*sorted(p for p in INFRA.rglob("*") if p.is_file()), COMPOSE]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


# --- the files parse -----------------------------------------------------------------------


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_deploy_yaml_parses_into_mappings(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


def test_every_k8s_manifest_has_a_kind_and_a_name_and_no_namespace(k8s: list[dict]) -> None:
    for doc in k8s:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"]
            assert "namespace" not in doc["metadata"], "manifests stay namespace-agnostic"


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    # Applying the template with the rest would overwrite the real Secret with placeholders.
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_FILES} - {"kustomization.yaml"}
    assert "secret.yaml" in on_disk
    assert listed == on_disk - {"secret.yaml"}


def test_the_k8s_image_name_is_the_one_kustomization_rewrites(k8s: list[dict]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    rewritten = {image["name"] for image in kustomization.get("images", [])}
    for doc in k8s:
        if doc["kind"] in ("Deployment", "Job"):
            assert only_container(doc)["image"] in rewritten, doc["metadata"]["name"]


# --- ports and commands ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_compose_service_runs_its_factory_on_its_port(compose: dict, name: str, port: int) -> None:
    service = compose["services"][name]
    command = service["command"]
    assert command[:3] == ["uvicorn", "--factory", FACTORIES[name]]
    assert port_flag(command) == port
    assert_no_websocket(command)
    assert "0.0.0.0" in command
    for published in service.get("ports", []):
        assert int(str(published).rsplit(":", 1)[-1]) == port
    assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])


def test_compose_publishes_the_api_and_the_join_gate(compose: dict) -> None:
    for name in ("api", "meetings"):
        published = [str(p).rsplit(":", 1)[-1] for p in compose["services"][name].get("ports", [])]
        assert str(SERVICE_PORTS[name]) in published, f"{name} is not published"


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_k8s_deployment_runs_its_factory_and_listens_on_its_port(
    k8s: list[dict], name: str, port: int
) -> None:
    container = only_container(k8s_object(k8s, "Deployment", name))
    command = container.get("command", []) + container.get("args", [])
    assert command[:3] == ["uvicorn", "--factory", FACTORIES[name]]
    assert port_flag(command) == port
    assert_no_websocket(command)
    assert [p["containerPort"] for p in container["ports"]] == [port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe in container:
            assert resolve_port(container, container[probe]["httpGet"]["port"]) == port, probe


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_k8s_service_forwards_its_port_to_its_pods(k8s: list[dict], name: str, port: int) -> None:
    service = k8s_object(k8s, "Service", name)
    deployment = k8s_object(k8s, "Deployment", name)
    container = only_container(deployment)
    [service_port] = service["spec"]["ports"]
    assert service_port["port"] == port
    assert resolve_port(container, service_port.get("targetPort", port)) == port
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def resolve_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"port name {port!r} is not declared by the container"
    return int(named[port])


def test_settings_agree_with_the_ports_and_the_service_names(compose: dict, k8s: list) -> None:
    config = k8s_object(k8s, "ConfigMap", "lingkar-config")["data"]
    compose_env = compose["services"]["api"]["environment"]
    for name, port in SERVICE_PORTS.items():
        url = f"http://{name}:{port}"
        assert config[f"LINGKAR_{name.upper()}_INTERNAL_URL"] == url
        assert compose_env[f"LINGKAR_{name.upper()}_INTERNAL_URL"] == url
        assert config.get(f"LINGKAR_{name.upper()}_PORT", str(port)) == str(port)


@pytest.mark.parametrize("name", SERVICE_PORTS)
def test_the_named_factories_exist(name: str) -> None:
    module_name, attribute = FACTORIES[name].split(":")
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_the_dockerfile_runs_the_api_factory_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    [cmd] = [line for line in text.splitlines() if line.startswith("CMD ")]
    command = json.loads(cmd.removeprefix("CMD "))
    assert command[:3] == ["uvicorn", "--factory", FACTORIES["api"]]
    assert port_flag(command) == SERVICE_PORTS["api"]
    assert_no_websocket(command)
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"pip install .*--require-hashes -r requirements\.lock", text)
    [user] = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user.split(":")[0] not in ("root", "0")
    for factory in re.findall(r"--factory (\S+)", text):
        assert factory in FACTORIES.values()


def test_compose_builds_every_lingkar_service_from_the_dockerfile(compose: dict) -> None:
    for name, service in compose["services"].items():
        if name == "postgres":
            continue
        build = service["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE.resolve()


def test_the_workers_run_the_worker_and_scale_out(compose: dict, k8s: list) -> None:
    assert compose["services"]["notification-worker"]["command"] == WORKER_COMMAND
    worker = k8s_object(k8s, "Deployment", "notification-worker")
    assert only_container(worker)["command"] == WORKER_COMMAND
    assert worker["spec"]["replicas"] >= 2
    assert importlib.util.find_spec("services.notifications.worker") is not None


def test_the_api_runs_two_replicas(k8s: list) -> None:
    assert k8s_object(k8s, "Deployment", "api")["spec"]["replicas"] >= 2


def test_every_k8s_container_has_memory_requests_and_limits(k8s: list) -> None:
    for doc in k8s:
        if doc["kind"] in ("Deployment", "Job"):
            resources = only_container(doc)["resources"]
            assert resources["requests"]["memory"] and resources["limits"]["memory"]


# --- settings names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [*DEPLOY_FILES, DOCKERFILE], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_lingkar_variable_is_a_real_setting(path: Path) -> None:
    used = set(SETTING_NAME.findall(path.read_text(encoding="utf-8")))
    unknown = used - valid_setting_names()
    assert not unknown, f"{path.name} sets variables no settings class reads: {sorted(unknown)}"


def test_the_deploy_files_set_the_environment_and_the_public_urls(compose: dict, k8s: list) -> None:
    needed = {"LINGKAR_ENV", "LINGKAR_PUBLIC_URL", "LINGKAR_MEETINGS_PUBLIC_URL"}
    assert needed <= k8s_object(k8s, "ConfigMap", "lingkar-config")["data"].keys()
    for name in SERVICE_PORTS:
        assert needed <= compose["services"][name]["environment"].keys(), name


# --- probes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICE_PORTS)
def test_k8s_probes_hit_readyz_and_healthz(k8s: list, name: str) -> None:
    container = only_container(k8s_object(k8s, "Deployment", name))
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    if "startupProbe" in container:
        assert container["startupProbe"]["httpGet"]["path"] in ("/healthz", "/readyz")


@pytest.mark.parametrize("name", SERVICE_PORTS)
async def test_the_probed_paths_answer_on_each_app(name: str) -> None:
    module_name, attribute = FACTORIES[name].split(":")
    [settings_class] = SETTINGS_OF[name]
    settings = settings_class(env="test", database_url="sqlite+aiosqlite:///:memory:")
    app = getattr(importlib.import_module(module_name), attribute)(settings)
    try:
        # No lifespan: the probes must answer on their own (readyz only needs the database).
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            for path in ("/healthz", "/readyz"):
                assert (await client.get(path)).status_code == 200, path
    finally:
        await app.state.engine.dispose()


# --- migrations -----------------------------------------------------------------------------


def test_the_migration_job_runs_shared_migrate(k8s: list) -> None:
    job = k8s_object(k8s, "Job", "lingkar-migrate")
    assert only_container(job)["command"] == MIGRATE_COMMAND
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")
    assert importlib.util.find_spec("shared.migrate") is not None


def test_compose_migrates_once_before_the_services_start(compose: dict) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == MIGRATE_COMMAND
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in [*SERVICE_PORTS, "notification-worker"]:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["postgres"]["condition"] == "service_healthy", name


def test_compose_runs_on_postgresql(compose: dict) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    for name in SETTINGS_OF:
        url = compose["services"][name]["environment"]["LINGKAR_DATABASE_URL"]
        assert COMPOSE_DATABASE_URL.match(url), name


# --- secrets --------------------------------------------------------------------------------


def test_the_secret_detector_tells_secrets_from_names() -> None:
    assert looks_like_secret("Zx9" + "k3Jf" * 10)
    assert looks_like_secret(DEV_SECRET_KEY)
    assert not looks_like_secret("LINGKAR_NOTIFICATIONS_INTERNAL_URL")
    assert not looks_like_secret("REPLACE-with-" + "k3Jf" * 10)


@pytest.mark.parametrize(("name", "text"), deploy_texts().items())
def test_no_deploy_file_holds_a_literal_secret(name: str, text: str) -> None:
    suspects = [t for t in SECRET_LIKE_TOKEN.findall(text) if looks_like_secret(t)]
    assert not suspects, f"{name} holds what looks like a secret: {suspects}"
    for placeholder in (DEV_SECRET_KEY, DEV_SERVICE_SECRET):
        assert placeholder not in text


@pytest.mark.parametrize("name", SETTINGS_OF)
def test_compose_secrets_are_required_from_the_environment(compose: dict, name: str) -> None:
    environment = compose["services"][name]["environment"]
    assert checked_secrets(*SETTINGS_OF[name]) <= environment.keys()
    for key, value in environment.items():
        if SECRET_NAME.search(key) and key != "LINGKAR_DATABASE_URL":
            # Either `${NAME:?message}` (compose refuses to start without it) or no value at all
            # (passed through from the shell or .env when set there, optional).
            assert value is None or INTERPOLATION_REQUIRED.match(value), f"{name}: {key}"
    postgres_password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert INTERPOLATION_REQUIRED.match(postgres_password)


@pytest.mark.parametrize("name", SETTINGS_OF)
def test_k8s_workloads_take_their_secrets_from_the_secret(k8s: list, name: str) -> None:
    kind, object_name = ("Job", "lingkar-migrate") if name == "migrate" else ("Deployment", name)
    container = only_container(k8s_object(k8s, kind, object_name))
    secret_keys = set(secret_template(k8s))
    from_secret = set()
    for entry in container.get("env", []):
        if SECRET_NAME.search(entry["name"]):
            assert "value" not in entry, f"{object_name}: {entry['name']} is a literal"
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == "lingkar-secrets"
            assert ref.get("optional") or ref["key"] in secret_keys, ref["key"]
            from_secret.add(entry["name"])
    assert checked_secrets(*SETTINGS_OF[name]) <= from_secret


def secret_template(k8s: list) -> dict[str, str]:
    secret = k8s_object(k8s, "Secret", "lingkar-secrets")
    values = dict(secret.get("stringData", {}))
    for key, encoded in secret.get("data", {}).items():
        values[key] = base64.b64decode(encoded).decode()
    return values


def test_the_secret_template_holds_only_replace_placeholders(k8s: list) -> None:
    values = secret_template(k8s)
    assert values
    for key, value in values.items():
        assert "REPLACE" in value, f"{key} in the Secret template is not a REPLACE placeholder"
    assert checked_secrets(ApiSettings, MeetingsSettings, NotificationsSettings) <= values.keys()


def test_the_configmap_holds_no_secrets(k8s: list) -> None:
    config = k8s_object(k8s, "ConfigMap", "lingkar-config")["data"]
    assert not [key for key in config if SECRET_NAME.search(key)]
