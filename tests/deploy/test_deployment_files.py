"""The deployment files: present, parseable, and consistent with what the tests check."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def test_the_kubernetes_prometheus_rule_matches_the_promtool_tested_rules() -> None:
    tested = {
        r["alert"]: r["expr"]
        for g in yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"]
        for r in g["rules"]
    }
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "watchkeeper.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert {"StatefulSet", "Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    rule = next(d for d in docs if d["kind"] == "PrometheusRule")
    for r in rule["spec"]["groups"][0]["rules"]:
        assert tested[r["alert"]] == r["expr"], r["alert"]
    statefulset = next(d for d in docs if d["kind"] == "StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"  # RocksDB on a volume


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
    assert top == {"streams", "agents", "alerts", "worker", "watchkeeper"}
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
