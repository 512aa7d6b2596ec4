"""The scenario library: inspection case studies as event files with the alerts they must raise.

A scenario is YAML: a ``start`` instant, events at offsets from it (``at``, and ``recorded``
when the record was entered later), and ``expect``: every alert message the case must
produce, as ``case rule stage status`` lines; ``refused`` lists the dead-letter reason of
each input that must be refused (``same_id_as: N`` gives an event the id of event N, ``id``
gives it that id as written). A scenario written for one rule names it (``rule``) and the
subject of its complying case (``quiet``): the rule must breach in another of its cases and
never in that one, which is how every rule has a firing and a quiet case through replay and
the live worker.
Data values written ``@<offset>`` are times at that offset from the start (a relevant
time, a review time). Event ids are derived from the scenario and the event's position, so
alert ids are the same on every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.scenario import Scenario, load

__all__ = ["Scenario", "all_scenarios", "load", "summary_line"]
HERE = Path(__file__).resolve().parent


def all_scenarios() -> list[Scenario]:
    return [load(p) for p in sorted(HERE.glob("*.yaml"))]


def summary_line(alert: dict[str, Any]) -> str:
    """How an alert message is written in a scenario's ``expect``."""
    return f"{alert['case']} {alert['rule_id']} {alert['stage_name']} {alert['status']}"
