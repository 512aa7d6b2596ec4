"""The shape of the codebase: layers that point one way, a pure core, one wiring point.

- The top-level packages import each other in one direction only, the layers below:
  ``streams`` < ``agents`` < ``alerts`` < ``worker`` < ``watchkeeper``, with ``devtools`` on
  top (a checkout's tools). The graph has no cycle.
- The pure core (``streams``, ``agents``, ``alerts``) imports no Faust, aiokafka,
  kafka-python, aiohttp or Prometheus client, nothing of the shell and no settings, and reads
  no environment variable.
- Importing any module creates no Faust app and reads no setting.
- No function runs over 60 lines unless a ``# long:`` comment at its top says why.

``python -m tests.test_architecture`` prints the import graph of the top-level packages.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from tests.conftest import REPO

LAYERS: Final = ("streams", "agents", "alerts", "reports", "worker", "watchkeeper", "devtools")
"""Lowest first: a package may import only those before it."""
PURE: Final = ("streams", "agents", "alerts", "reports")
IMPURE_LIBRARIES: Final = ("faust", "mode", "aiokafka", "kafka", "aiohttp", "prometheus_client")
FUNCTION_LINES: Final = 60


def modules(package: str) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((REPO / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, at any depth (inside functions and TYPE_CHECKING too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def graph() -> dict[str, dict[str, list[str]]]:
    """Top-level package -> package it imports -> where (file:line)."""
    edges: dict[str, dict[str, list[str]]] = {package: {} for package in LAYERS}
    for package in LAYERS:
        for path, tree in modules(package):
            for line, module in imported(tree):
                top = module.split(".")[0]
                if top in LAYERS and top != package:
                    edges[package].setdefault(top, []).append(f"{path.relative_to(REPO)}:{line}")
    return edges


def cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for target in edges[node]:
            if target in path:
                found.append([*path[path.index(target) :], target])
            else:
                visit(target, [*path, target])

    for start in LAYERS:
        visit(start, [start])
    return found


def test_the_top_level_packages_import_each_other_in_one_direction_only() -> None:
    edges = graph()
    assert cycles(edges) == []
    upward = [
        f"{package} imports {target} ({where[0]})"
        for package, targets in edges.items()
        for target, where in targets.items()
        if LAYERS.index(target) > LAYERS.index(package)
    ]
    assert upward == [], "a lower layer imports a higher one"


def test_the_pure_core_imports_no_faust_kafka_http_or_settings_and_reads_no_environment() -> None:
    found = []
    for package in PURE:
        for path, tree in modules(package):
            for line, module in imported(tree):
                if module.split(".")[0] in IMPURE_LIBRARIES:
                    found.append(f"{path.relative_to(REPO)}:{line} imports {module}")
            for node in ast.walk(tree):
                reads = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                if reads and isinstance(node.value, ast.Name) and node.value.id == "os":
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} reads the environment")
    assert found == []


def test_importing_any_module_creates_no_faust_app_and_reads_no_setting() -> None:
    """Every module imported in a fresh process where creating a Faust app raises and every
    setting is unreadable: any wiring done on import fails the import."""
    script = f"""
import importlib, os, pkgutil, sys
sys.path.insert(0, {str(REPO)!r})
os.environ["WATCHKEEPER_PARTITIONS"] = "not a number"
os.environ["WATCHKEEPER_BOOTSTRAP_SERVERS"] = "nowhere"
import faust
def refuse(*args, **kwargs):
    raise RuntimeError("a Faust app created on import")
faust.App.__init__ = refuse
for package in {list(LAYERS)!r}:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not info.name.endswith(".__main__"):  # running a command is not importing it
            importlib.import_module(info.name)
print("imported", len([m for m in sys.modules if m.split(".")[0] in {list(LAYERS)!r}]))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) > 60


def test_the_worker_is_assembled_by_one_function_from_settings() -> None:
    """``worker.main.build`` registers every agent, table and route; nothing else does."""
    from tests.worker.helpers import assemble

    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="arch")
    assert sorted(worker.app.agents) == [
        "custody-agent",
        "dispatcher",
        "incidents-agent",
        "investigations-agent",
        "outbox",
        "protection-agent",
    ]
    tables = sorted(t.name for t in worker.app.tables.values())
    assert tables == [
        "alert-records",
        "custody-cases",
        "incidents-cases",
        "investigations-cases",
        "outbox-pending",
        "protection-cases",
    ]
    assert {"/metrics", "/console", "/ack", "/alerts/{alert_id}/ack", "/console/api/stream"} <= set(worker.routes())
    quiet = assemble(WATCHKEEPER_TOPIC_PREFIX="arch2", WATCHKEEPER_CONSOLE="off")
    assert quiet.board is None and "/console" not in quiet.routes() and "/ack" in quiet.routes()
    registrations = []
    for package in LAYERS:
        for path, tree in modules(package):
            for node in ast.walk(tree):
                call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                if call and node.func.attr in ("agent", "Table", "timer", "page") and path.name != "main.py":  # type: ignore[attr-defined]
                    registrations.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert registrations == [], "agents, tables, timers and pages are registered in worker/main.py only"


def test_no_function_runs_over_sixty_lines_without_saying_why() -> None:
    long = []
    for package in (*LAYERS, "bench"):
        for path, tree in modules(package):
            lines = path.read_text(encoding="utf-8").splitlines()
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                top = "\n".join(lines[node.lineno - 1 : node.body[0].lineno + 1])
                if length > FUNCTION_LINES and "# long:" not in top:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def main() -> None:
    for package, targets in graph().items():
        below = ", ".join(
            f"{t} ({len(w)} imports)" for t, w in sorted(targets.items(), key=lambda i: LAYERS.index(i[0]))
        )
        print(f"{package:12} -> {below or '(nothing of the project)'}")
    found = cycles(graph())
    print("cycles:", found or "none")


if __name__ == "__main__":
    main()
