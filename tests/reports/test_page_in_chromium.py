"""A simulated force's report through the command line, opened in a real headless Chromium
(Debian's) and printed to PDF. The screenshot is kept in test-artifacts/reports/ on every run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ARTIFACTS = Path(os.environ.get("WATCHKEEPER_ARTIFACTS", REPO / "test-artifacts")) / "reports"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def watchkeeper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watchkeeper", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_a_simulated_month_reports_as_a_page_a_person_can_read_and_print(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
    events, page = tmp_path / "month.jsonl", tmp_path / "report.html"
    made = watchkeeper("simulate", "--days", "28", "--seed", "7", "--profile", "small",
                       "--start", "2026-10-01T00:00:00+01:00", "--out", str(events))  # fmt: skip
    assert made.returncode == 0, made.stderr
    reported = watchkeeper("report", str(events), "--from", "2026-10-15", "--to", "2026-10-28", "--out", str(page),
                           "--pdf")  # fmt: skip
    assert reported.returncode == 0, reported.stderr
    assert page.with_suffix(".pdf").read_bytes().startswith(b"%PDF")

    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        tab = browser.new_page(viewport={"width": 1100, "height": 1400})
        tab.goto(page.as_uri())
        assert (
            tab.title()
            == "Child protection compliance: all suites and areas, Thu 15 Oct 2026 to Wed 28 Oct 2026, London days"
        )
        for heading in (
            "Warnings and breaches by rule",
            "Time to act",
            "Detention reviews",
            "The rules and their legal basis",
        ):
            assert tab.get_by_role("heading", name=heading).is_visible()
        assert tab.locator("svg rect").count() > 10, "the charts are drawn"
        tab.get_by_role("link", name="Appropriate adult to arrive").click()
        assert tab.evaluate("location.hash") == "#rule-custody.appropriate_adult.arrival"
        tab.screenshot(path=str(ARTIFACTS / "report-whole.png"), full_page=True)
        tab.evaluate("window.scrollTo(0, 0)")
        tab.screenshot(path=str(ARTIFACTS / "report.png"))
        what_if = tmp_path / "what-if.yaml"
        what_if.write_text("force: what-if\noverrides:\n  custody.appropriate_adult.arrival:\n    target: 1h\n")
        backtest = tmp_path / "backtest.html"
        tested = watchkeeper("backtest", str(events), "--overrides", str(what_if), "--out", str(backtest),
                             "--sweep", "custody.appropriate_adult.arrival.target=1h..4h/30m")  # fmt: skip
        assert tested.returncode == 0, tested.stderr
        tab.goto(backtest.as_uri())
        assert tab.get_by_role("heading", name="Cases whose verdict changes").is_visible()
        assert tab.locator("svg polyline").count() == 2, "breaches and warnings against the target"
        tab.screenshot(path=str(ARTIFACTS / "backtest.png"), full_page=True)
        browser.close()
