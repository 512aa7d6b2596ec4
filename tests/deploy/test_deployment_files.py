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


def test_the_dockerfile_copies_every_package() -> None:
    text = (REPO / "Dockerfile").read_text()
    for package in ("streams", "agents", "alerts", "watchkeeper"):
        assert re.search(rf"^COPY {package} {package}$", text, re.M), package
