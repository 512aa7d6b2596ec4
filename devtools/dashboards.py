"""The Grafana dashboards, as code (grafana-foundation-sdk): custody manager, duty overview and
platform health. ``make dashboards`` (``python -m devtools.dashboards``) writes them to
deploy/grafana/dashboards/; a test fails when the committed JSON is stale, and the Prometheus
integration test runs every panel's query against a real Prometheus scraping a real worker.

A development tool: grafana-foundation-sdk is a dev dependency, and the JSON is committed,
so an installed Watchkeeper neither needs nor ships this module.

Figures of what is open now (``watchkeeper_open_alerts``, ``watchkeeper_children_in_custody``
…) and the consumer lag are cluster-wide and reported by every worker, so panels take
``max``; counters and histograms are per worker, so panels ``sum`` them.

Every dashboard has two variables: the Prometheus data source (no uid is written into a
dashboard: a force's Grafana names its own) and the area or custody suite, which panels
that have an area label follow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT: Final = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards"
PROMETHEUS: Final = DataSourceRef(type_val="prometheus", uid="${datasource}")
ALL_AREAS: Final = ".*"
"""What the area variable's "All" sends: queries() puts it in for the Prometheus test."""

Panel = tuple[str, str, str, str, str]
"""(kind, title, unit, PromQL, legend)."""

CUSTODY_MANAGER: Final[list[tuple[str, list[Panel]]]] = [
    (
        "Children in custody now",
        [
            (
                "stat",
                "Children in custody",
                "none",
                'sum(max by (area) (watchkeeper_children_in_custody{area=~"$area"}))',
                "",
            ),
            (
                "timeseries",
                "Children in custody by suite",
                "none",
                'max by (area) (watchkeeper_children_in_custody{area=~"$area"})',
                "{{area}}",
            ),
            (
                "stat",
                "Police protection active",
                "none",
                "max(watchkeeper_children_in_police_protection)",
                "",
            ),
            (
                "stat",
                "High-risk missing children open",
                "none",
                "max(watchkeeper_high_risk_missing_children)",
                "",
            ),
            (
                "stat",
                "Child protection investigations open",
                "none",
                'sum(max by (area) (watchkeeper_child_protection_investigations_open{area=~"$area"}))',
                "",
            ),
        ],
    ),
    (
        "Investigations, first contact and offender management",
        [
            (
                "timeseries",
                "Child protection investigations open by area",
                "none",
                'max by (area) (watchkeeper_child_protection_investigations_open{area=~"$area"})',
                "{{area}}",
            ),
            (
                "timeseries",
                "Investigation and offender management breaches by rule",
                "none",
                'sum by (rule) (increase(watchkeeper_alerts_total{rule=~"(investigation|offender)[.].+", '
                'stage="breach", status="firing"}[1d]))',
                "{{rule}}",
            ),
            (
                "timeseries",
                "First contact breaches by rule",
                "none",
                'sum by (rule) (increase(watchkeeper_alerts_total{rule=~"first_contact[.].+", '
                'stage="breach", status="firing"}[1d]))',
                "{{rule}}",
            ),
        ],
    ),
    (
        "Waits and durations",
        [
            (
                "timeseries",
                "AA wait, median",
                "s",
                "histogram_quantile(0.5, sum by (le) (rate(watchkeeper_aa_wait_seconds_bucket[1h])))",
                "median",
            ),
            (
                "timeseries",
                "AA wait, 90th percentile",
                "s",
                "histogram_quantile(0.9, sum by (le) (rate(watchkeeper_aa_wait_seconds_bucket[1h])))",
                "p90",
            ),
            (
                "timeseries",
                "Health care wait, 90th percentile",
                "s",
                "histogram_quantile(0.9, sum by (le) (rate(watchkeeper_hcp_wait_seconds_bucket[1h])))",
                "p90",
            ),
            (
                "timeseries",
                "Children's detention, 90th percentile",
                "s",
                "histogram_quantile(0.9, sum by (le) (rate(watchkeeper_child_detention_seconds_bucket[6h])))",
                "p90",
            ),
            (
                "timeseries",
                "Police protection duration, 90th percentile",
                "s",
                "histogram_quantile(0.9, sum by (le) (rate(watchkeeper_police_protection_seconds_bucket[6h])))",
                "p90",
            ),
            (
                "timeseries",
                "Children's reviews by mode and awake",
                "none",
                "sum by (mode, awake) (increase(watchkeeper_child_reviews_total[1d]))",
                "{{mode}} {{awake}}",
            ),
            (
                "timeseries",
                "Reviews postponed with a recorded reason (s.40(4)), apart from reviews missed",
                "none",
                "sum by (reason) (increase(watchkeeper_detention_reviews_postponed_total[1d]))",
                "postponed: {{reason}}",
            ),
            (
                "timeseries",
                "Detention reviews missed (breaches of the review schedule)",
                "none",
                'sum(increase(watchkeeper_alerts_total{rule="custody.detention_review.schedule", stage="breach", '
                'status="firing"}[1d]))',
                "missed",
            ),
        ],
    ),
    (
        "Breaches",
        [
            (
                "timeseries",
                "Breaches by rule",
                "none",
                'sum by (rule) (increase(watchkeeper_alerts_total{stage="breach", status="firing"}[1h]))',
                "{{rule}}",
            ),
            (
                "timeseries",
                "Breaches by suite or area",
                "none",
                'sum by (area) (increase(watchkeeper_alerts_total{stage="breach", status="firing", '
                'area=~"$area"}[1h]))',
                "{{area}}",
            ),
        ],
    ),
]

DUTY_OVERVIEW: Final[list[tuple[str, list[Panel]]]] = [
    (
        "Now",
        [
            ("stat", "Open alerts", "none", "sum(max by (severity) (watchkeeper_open_alerts))", ""),
            (
                "stat",
                "Active silences (pages held)",
                "none",
                'max(watchkeeper_silences{status="active"})',
                "",
            ),
            (
                "timeseries",
                "Open alerts by severity",
                "none",
                "max by (severity) (watchkeeper_open_alerts)",
                "{{severity}}",
            ),
            (
                "timeseries",
                "Running clocks by rule",
                "none",
                "max by (rule) (watchkeeper_open_clocks)",
                "{{rule}}",
            ),
        ],
    ),
    (
        "Alerts",
        [
            (
                "timeseries",
                "Warnings and breaches by rule",
                "none",
                'sum by (rule, stage) (increase(watchkeeper_alerts_total{status="firing"}[1h]))',
                "{{stage}} {{rule}}",
            ),
            (
                "timeseries",
                "Breaches by severity",
                "none",
                'sum by (severity) (increase(watchkeeper_alerts_total{stage="breach", status="firing"}[1h]))',
                "{{severity}}",
            ),
            (
                "timeseries",
                "Historical alerts by rule (recorded, not paged)",
                "none",
                "sum by (rule) (increase(watchkeeper_historical_alerts_total[1h]))",
                "{{rule}}",
            ),
            (
                "timeseries",
                "Alerts whose pages a silence held, and released",
                "none",
                "sum by (event) (increase(watchkeeper_silence_holds_total[1h]))",
                "{{event}}",
            ),
            (
                "timeseries",
                "Acknowledgement latency, 90th percentile",
                "s",
                "histogram_quantile(0.9, sum by (le) (rate(watchkeeper_alert_ack_seconds_bucket[1h])))",
                "p90",
            ),
            (
                "timeseries",
                "Lifecycle transitions",
                "none",
                "sum by (state) (increase(watchkeeper_alert_transitions_total[1h]))",
                "{{state}}",
            ),
        ],
    ),
]

PLATFORM: Final[list[tuple[str, list[Panel]]]] = [
    (
        "Input",
        [
            (
                "timeseries",
                "Events by outcome",
                "ops",
                "sum by (outcome) (rate(watchkeeper_events_total[5m]))",
                "{{outcome}}",
            ),
            (
                "timeseries",
                "Events by type",
                "ops",
                "sum by (type) (rate(watchkeeper_events_by_type_total[5m]))",
                "{{type}}",
            ),
            (
                "timeseries",
                "Dead letters by reason",
                "none",
                "sum by (reason) (increase(watchkeeper_dead_letters_total[15m]))",
                "{{reason}}",
            ),
            (
                "timeseries",
                "Consumer lag by partition",
                "none",
                "max by (topic, partition) (watchkeeper_consumer_lag)",
                "{{topic}}[{{partition}}]",
            ),
        ],
    ),
    (
        "Timeliness and delivery",
        [
            (
                "timeseries",
                "Deadline to alert, 99th percentile",
                "s",
                "histogram_quantile(0.99, sum by (le) (rate(watchkeeper_deadline_to_alert_seconds_bucket[15m])))",
                "p99",
            ),
            (
                "timeseries",
                "Open deadlines indexed",
                "none",
                "sum by (domain) (watchkeeper_open_deadlines)",
                "{{domain}}",
            ),
            (
                "timeseries",
                "Delivery attempts by receiver and verdict",
                "none",
                "sum by (receiver, verdict) (increase(watchkeeper_delivery_attempts_total[15m]))",
                "{{receiver}} {{verdict}}",
            ),
            (
                "timeseries",
                "Delivery latency, 90th percentile",
                "s",
                "histogram_quantile(0.9, sum by (le, receiver) (rate(watchkeeper_delivery_seconds_bucket[15m])))",
                "{{receiver}}",
            ),
            (
                "timeseries",
                "Deliveries failed over",
                "none",
                "sum by (receiver) (increase(watchkeeper_delivery_failures_total[1h]))",
                "{{receiver}}",
            ),
            ("stat", "Workers up", "none", 'sum(up{job="watchkeeper"})', ""),
        ],
    ),
]

DASHBOARDS: Final = {
    "custody-manager": ("Watchkeeper: custody manager", CUSTODY_MANAGER),
    "duty-overview": ("Watchkeeper: duty overview", DUTY_OVERVIEW),
    "platform-health": ("Watchkeeper: platform health", PLATFORM),
}


def _panel(kind: str, title: str, unit: str, expr: str, legend: str) -> Any:
    target = Dataquery().expr(expr).legend_format(legend or "__auto").ref_id("A")
    builder = Stat() if kind == "stat" else Timeseries()
    return builder.title(title).unit(unit).datasource(PROMETHEUS).with_target(target)


def build(uid: str) -> Dashboard:
    title, rows = DASHBOARDS[uid]
    dashboard = Dashboard(title).uid(f"watchkeeper-{uid}").tags(["watchkeeper"]).refresh("30s").time("now-24h", "now")
    dashboard = dashboard.timezone("Europe/London")  # people read London time, wherever the browser is
    dashboard = dashboard.with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
    areas = (
        QueryVariable("area")
        .label("Area or suite")
        .datasource(PROMETHEUS)
        .query("label_values(watchkeeper_alerts_total, area)")
        .multi(True)
        .include_all(True)
        .all_value(ALL_AREAS)
    )
    dashboard = dashboard.with_variable(areas)
    for row, panels in rows:
        dashboard = dashboard.with_row(Row(row))
        for panel in panels:
            dashboard = dashboard.with_panel(_panel(*panel))
    return dashboard


def render_all() -> dict[str, str]:
    encoder = JSONEncoder(sort_keys=True, indent=2)
    return {f"{uid}.json": encoder.encode(build(uid).build()) + "\n" for uid in DASHBOARDS}


def queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) of every panel, as Grafana sends it with "All" areas."""
    return [
        (uid, p[1], p[3].replace("$area", ALL_AREAS))
        for uid, (_, rows) in DASHBOARDS.items()
        for _, panels in rows
        for p in panels
    ]


def write_all(out: Path = OUT) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (out / name).write_text(text, encoding="utf-8")
    return sorted(render_all())


def stale(out: Path = OUT) -> list[str]:
    return [n for n, t in render_all().items() if not (out / n).is_file() or (out / n).read_text(encoding="utf-8") != t]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.dashboards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write (default deploy/grafana/dashboards)")
    parser.add_argument("--check", action="store_true", help="exit 1 if what is on disk is not current")
    args = parser.parse_args(argv)
    if args.check:
        for name in stale(args.out):
            print(f"stale or missing: {args.out / name} (run: make dashboards)", file=sys.stderr)
        return 1 if stale(args.out) else 0
    print(f"wrote {len(write_all(args.out))} dashboards to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
