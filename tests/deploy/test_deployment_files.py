"""The deployment files: present, parseable, and consistent with what the tests check."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def test_the_kubernetes_prometheus_rule_is_the_promtool_tested_rules() -> None:
    tested = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"]
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "watchkeeper.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    assert rule["spec"]["groups"] == tested, "copy deploy/prometheus/rules.yml's groups into the PrometheusRule"
    alerts = {r["alert"]: r for r in tested[0]["rules"]}
    assert "WatchkeeperAbsent" in alerts
    for name, r in alerts.items():
        assert {"summary", "description", "runbook_url", "action"} <= set(r["annotations"]), name
        anchor = r["annotations"]["runbook_url"].split("#")[1]
        assert f"### {name}" in (REPO / "docs" / "operations.md").read_text() and anchor == name.lower()
    statefulset = next(d for d in docs if d["kind"] == "StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"  # RocksDB on a volume


def test_the_service_monitor_scrapes_each_pod_once() -> None:
    """Selecting both Services scraped every pod twice: every sum on the dashboards doubled."""
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "watchkeeper.yaml").read_text()))
    wanted = next(d for d in docs if d["kind"] == "ServiceMonitor")["spec"]["selector"]["matchLabels"]
    services = [d for d in docs if d["kind"] == "Service"]
    chosen = [s["metadata"]["name"] for s in services if wanted.items() <= s["metadata"]["labels"].items()]
    assert chosen == ["watchkeeper-workers"]
    assert next(s for s in services if s["metadata"]["name"] == "watchkeeper-workers")["spec"]["clusterIP"] == "None"


def test_compose_has_kafka_two_workers_prometheus_and_grafana_with_existing_files() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert {"kafka", "worker-1", "worker-2", "prometheus", "grafana"} <= set(compose["services"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source


def test_the_dockerfile_copies_every_installed_package_and_no_development_tool() -> None:
    import tomllib

    text = (REPO / "Dockerfile").read_text()
    installed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    top = {package.split(".")[0] for package in installed}
    assert top == {"streams", "agents", "alerts", "reports", "worker", "watchkeeper"}
    for package in top:
        assert re.search(rf"^COPY {package} {package}$", text, re.M), package
    assert "devtools" not in text


def test_no_deployment_file_ships_a_usable_secret() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        assert not [k for k in env if k.startswith("WK_") or "SECRET" in k or "PASSWORD" in k], name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    assert compose["x-worker"]["env_file"] == ["watchkeeper.env"]
    example = (DEPLOY / "watchkeeper.env.example").read_text()
    assert all(line.endswith("=") for line in example.splitlines() if line.startswith("WK_")), "values are blank"
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "watchkeeper.yaml").read_text()))
    assert "Secret" not in {d["kind"] for d in docs}, "the operator creates the Secret"
    text = (DEPLOY / "docker-compose.yml").read_text() + (DEPLOY / "k8s" / "watchkeeper.yaml").read_text()
    assert "change-me" not in text and "whsec_" not in text
    assert not any(word in (DEPLOY / "notify" / "example.yaml").read_text() for word in ("token_sha256", "change-me"))


def test_the_probes_ask_readyz_and_livez_not_metrics() -> None:
    """/metrics answers before the tables are recovered: a pod probed there is ready too soon."""
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "watchkeeper.yaml").read_text()))
    (container,) = next(d for d in docs if d["kind"] == "StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name in ("worker-1", "worker-2"):
        assert "/readyz" in " ".join(compose["services"][name]["healthcheck"]["test"])
    assert "/livez" in (REPO / "Dockerfile").read_text()


def test_the_image_installs_the_lock_file_which_pins_every_dependency_within_its_bound() -> None:
    import tomllib

    from packaging.requirements import Requirement

    text = (REPO / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements.lock" in text and "pip install --no-deps ." in text
    pinned = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\", (REPO / "requirements.lock").read_text(), re.M))
    assert all("--hash=sha256:" in line for line in (REPO / "requirements.lock").read_text().split("==")[1:])
    for spec in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} is outside {requirement.specifier}"
        )
