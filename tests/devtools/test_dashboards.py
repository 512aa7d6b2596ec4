from __future__ import annotations

import json

from devtools.dashboards import OUT, queries, render_all, stale


def test_the_committed_dashboards_are_generated_and_current() -> None:
    assert stale() == [], "stale: run `make dashboards`"
    assert sorted(p.name for p in OUT.glob("*.json")) == sorted(render_all())


def test_every_panel_queries_prometheus_and_no_label_is_a_case() -> None:
    for name, text in render_all().items():
        dashboard = json.loads(text)
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert panels and all(p["datasource"]["uid"] == "prometheus" and p["targets"][0]["expr"] for p in panels), name
    assert not any("case" in expr for _, _, expr in queries())
