from __future__ import annotations

import json

from devtools.dashboards import OUT, queries, render_all, stale


def test_the_committed_dashboards_are_generated_and_current() -> None:
    assert stale() == [], "stale: run `make dashboards`"
    assert sorted(p.name for p in OUT.glob("*.json")) == sorted(render_all())


def test_every_panel_queries_the_chosen_prometheus_and_no_label_is_a_case() -> None:
    for name, text in render_all().items():
        dashboard = json.loads(text)
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert panels and all(p["targets"][0]["expr"] for p in panels), name
        assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in panels), "no fixed uid"
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource" and variables["area"]["includeAll"], name
        assert dashboard["timezone"] == "Europe/London"
    assert not any("case" in expr for _, _, expr in queries())
    area_panels = [expr for _, _, expr in queries() if "area" in expr and "by (area)" in expr]
    assert area_panels and all('area=~".*"' in expr for expr in area_panels), "panels by area follow the variable"


def test_what_is_open_now_is_one_gauge_per_measure_not_one_family_for_all() -> None:
    assert not any("watchkeeper_board" in expr for _, _, expr in queries())
