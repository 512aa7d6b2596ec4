"""An installed Watchkeeper is not a checkout: the wheel holds what a deployment runs, and
nothing it runs reads ``deploy/``, ``docs/`` or ``devtools/`` by a relative path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

INSTALLED = ("streams", "agents", "alerts", "reports", "worker", "watchkeeper")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of what it is made of (no stale build/ of the checkout),
    unpacked where Python finds it first."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    for package in INSTALLED:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    wheels = root / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("*.whl")
    unpacked = root / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    return unpacked


def installed(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_the_wheel_holds_the_packages_their_data_and_no_development_tool(site: Path) -> None:
    tops = {p.name for p in site.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")}
    assert tops == set(INSTALLED)
    assert sorted(p.name for p in (site / "agents" / "packs").glob("*.yaml")) == [
        "custody.yaml",
        "first_contact.yaml",
        "incidents.yaml",
        "investigations.yaml",
        "missing.yaml",
        "offenders.yaml",
        "protection.yaml",
    ]
    assert sorted(p.name for p in (site / "streams" / "profiles").glob("*.yaml")) == [
        "large.yaml",
        "medium.yaml",
        "small.yaml",
    ]
    assert (site / "worker" / "web" / "static" / "index.html").is_file()
    assert (site / "worker" / "web" / "openapi.yaml").is_file()


def test_installed_commands_run_and_write_only_where_told(site: Path, tmp_path: Path) -> None:
    rules = installed(site, "-m", "watchkeeper", "rules", cwd=tmp_path)
    assert rules.returncode == 0, rules.stderr
    assert rules.stdout == (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    schemas = installed(site, "-m", "watchkeeper", "schemas", "--out", "schemas", cwd=tmp_path)
    assert schemas.returncode == 0, schemas.stderr
    assert (tmp_path / "schemas" / "index.json").is_file()
    simulated = installed(site, "-m", "watchkeeper", "simulate", "--days", "1", "--profile", "small", cwd=tmp_path)
    assert simulated.returncode == 0 and simulated.stdout.count("\n") > 10, simulated.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["schemas"], "nothing else is written"
    assert installed(site, "-c", "import devtools", cwd=tmp_path).returncode != 0


def test_an_installed_worker_assembles_from_its_own_files(site: Path, tmp_path: Path) -> None:
    script = (
        "import worker.main, worker.web.console as console\n"
        "from worker.settings import Settings\n"
        "w = worker.main.build(Settings.from_env({'WATCHKEEPER_STORE': 'memory://'}))\n"
        "assert (console.STATIC / 'index.html').is_file() and len(w.policy.rules) > 30\n"
        "print(worker.main.__file__)\n"
    )
    result = installed(site, "-c", script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith(str(site))
