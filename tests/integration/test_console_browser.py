"""The duty inspectors' console in a real headless Chromium (Debian's, driven by Playwright),
against a real worker and broker. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.tokens import credential_for, generate_token
from tests.alerts.helpers import SESSION_KEY
from tests.conftest import REPO, Deployment, cloudevent, detention, free_port

pytestmark = pytest.mark.broker
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("WATCHKEEPER_ARTIFACTS", REPO / "test-artifacts")) / "console"
INSPECTOR, VIEWER, ADMIN = generate_token(), generate_token(), generate_token()
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def console(
    deployment: Callable[..., Deployment], users: str = "", policy: str = "aa-10s.yaml"
) -> tuple[Deployment, str]:
    port = free_port()
    users = users or (
        f"insp-4411:inspector:{credential_for(INSPECTOR)},obs-1:viewer:{credential_for(VIEWER)},"
        f"admin-7:admin:{credential_for(ADMIN)}"
    )
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=str(REPO / "tests" / "integration" / policy),
        WATCHKEEPER_WEB_PORT=str(port),
        WATCHKEEPER_CONSOLE_USERS=users,
        WATCHKEEPER_SESSION_SECRET=SESSION_KEY,
    )
    d.start_worker()
    return d, f"http://127.0.0.1:{port}"


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/console")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_inspector_sees_an_alert_arrive_live_acknowledges_it_and_watches_clocks_count_down(
    deployment: Callable[..., Deployment], browser: Any
) -> None:
    d, base = console(deployment)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, INSPECTOR)
    page.locator("#live.on").wait_for(timeout=30_000)
    assert page.locator("#whoami").inner_text() == "insp-4411 (inspector)"
    shot(page, "1-board-empty")

    now = dt.datetime.now(dt.UTC)
    d.send(detention("CR-UI1", at=now, suite="SUITE-NORTH"))
    d.send(cloudevent("CR-UI1", "custody.appropriate_adult.requested", at=now))
    card = page.locator("li.card.breach", has_text="CR-UI1")
    card.wait_for(timeout=40_000)  # pushed by Server-Sent Events: the page never reloads
    assert "SUITE-NORTH" in card.inner_text() and "overdue" in card.inner_text()
    assert re.search(r"\d\d:\d\d:\d\d (GMT|BST)", card.inner_text()), "times are London time with the zone"
    assert "Breached: the deadline" in card.locator(".reason").inner_text()
    shot(page, "2-board-breach")

    card.get_by_role("button", name="Acknowledge").click()
    page.get_by_label("Note (no names)").fill("AA scheme chased, ETA 20 min")
    page.locator("#ack-confirm").click()
    page.locator("li.card.breach", has_text="CR-UI1").locator('[data-state="acknowledged"]').wait_for(timeout=30_000)
    assert "by insp-4411" in page.locator("li.card.breach", has_text="CR-UI1").inner_text()
    shot(page, "3-board-acknowledged")

    page.get_by_role("link", name="Clocks").click()
    row = page.locator("tr", has_text="Detention review due")
    row.wait_for(timeout=20_000)
    first = row.locator(".countdown").inner_text()
    page.wait_for_timeout(2200)
    assert row.locator(".countdown").inner_text() != first and "left" in first
    assert page.locator("#children li", has_text="Child CR-UI1").locator("tr").count() >= 4  # review, limit, CSC, ...
    shot(page, "4-clocks")

    page.locator("#clocks a", has_text="CR-UI1").first.click()
    page.locator("#case-body table").first.wait_for(timeout=10_000)
    body = page.locator("#case-body").inner_text()
    assert "appropriate adult requested" in body and "acknowledged by insp-4411" in body
    assert "custody.appropriate_adult.requested" not in body, "people read plain words, not type ids"
    assert "Legal basis" in body
    shot(page, "5-case")

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, INSPECTOR)
    phone.locator("li.card.breach", has_text="CR-UI1").wait_for(timeout=30_000)
    assert phone.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    shot(phone, "6-phone")


def test_bad_tokens_viewers_and_headers(deployment: Callable[..., Deployment], browser: Any) -> None:
    _, base = console(deployment)
    page = browser.new_page()
    sign_in(page, base, "not-a-token")
    page.get_by_text("That token was not accepted.").wait_for(timeout=10_000)
    shot(page, "7-bad-token")

    with urllib.request.urlopen(f"{base}/console", timeout=10) as reply:
        headers = reply.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    for path in ("/console/api/board", "/console/api/stream", "/table", "/router"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base}{path}", timeout=10)
        assert info.value.code in (401, 404), path

    sign_in(page, base, VIEWER)
    page.locator("#live.on").wait_for(timeout=30_000)
    status = page.evaluate(
        """async () => (await fetch('/console/api/alerts/00000000-0000-0000-0000-000000000000/ack',
             {method: 'POST', headers: {'X-Watchkeeper': 'console', 'Content-Type': 'application/json'},
              body: '{}'})).status"""
    )
    assert status == 403


def test_an_admin_sets_a_silence_the_board_shows_what_it_holds_and_ending_it_is_one_click(
    deployment: Callable[..., Deployment], browser: Any
) -> None:
    d, base = console(deployment)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, ADMIN)
    page.locator("#live.on").wait_for(timeout=30_000)
    page.get_by_role("link", name="Silences").click()
    form = page.locator("#silence-form")
    form.get_by_label("Areas or suites").fill("SUITE-WEST")
    form.get_by_label("Lasts").fill("1h")
    form.get_by_label("Reason (no names)").fill("custody system outage, records typed in late")
    form.get_by_role("button", name="Set silence").click()
    active = page.locator("li.silence.active", has_text="areas SUITE-WEST")
    active.wait_for(timeout=10_000)
    assert "Set by admin-7: custody system outage" in active.inner_text()

    # A scheduled one: the start is read as London wall time, whatever the browser's zone.
    later = (dt.datetime.now(ZoneInfo("Europe/London")) + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    form.get_by_label("Areas or suites").fill("SUITE-EAST")
    form.get_by_label("Starts, London time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Reason (no names)").fill("planned upgrade")
    form.get_by_role("button", name="Set silence").click()
    scheduled = page.locator("li.silence.pending", has_text="areas SUITE-EAST")
    scheduled.wait_for(timeout=10_000)
    assert later.strftime("%H:%M:00 ") + later.strftime("%Z") in scheduled.inner_text()

    now = dt.datetime.now(dt.UTC)
    d.send(detention("CR-UI9", at=now, suite="SUITE-WEST"))
    d.send(cloudevent("CR-UI9", "custody.appropriate_adult.requested", at=now))
    page.get_by_role("link", name="Alerts").click()
    held = page.locator("li.card.breach", has_text="CR-UI9")
    held.wait_for(timeout=40_000)
    held.locator(".held").wait_for(timeout=30_000)
    assert "pages held by silence" in held.inner_text(), "held, and on the board all the same"
    shot(page, "8-board-held")

    page.get_by_role("link", name="Silences").click()
    page.locator("li.silence.active", has_text=re.compile(r"holding the pages of [1-9]")).wait_for(timeout=10_000)
    shot(page, "9-silences")
    active.get_by_role("button", name="End now").click()
    page.locator("li.silence.ended", has_text="ended early by admin-7").wait_for(timeout=10_000)
    page.get_by_role("link", name="Alerts").click()
    page.locator("li.card.breach", has_text="CR-UI9").locator(".held").wait_for(state="detached", timeout=30_000)

    viewer = browser.new_page()
    sign_in(viewer, base, VIEWER)
    viewer.locator("#live.on").wait_for(timeout=30_000)
    viewer.get_by_role("link", name="Silences").click()
    viewer.locator("li.silence", has_text="areas SUITE-EAST").wait_for(timeout=10_000)
    assert viewer.locator("#silence-form").is_hidden() and viewer.get_by_role("button", name="End now").count() == 0


def test_the_night_board_one_card_per_deadline_grouped_by_child_search_title_case_page_areas_and_view_audit(
    deployment: Callable[..., Deployment], browser: Any
) -> None:
    south = generate_token()
    users = f"insp-4411:inspector:{credential_for(INSPECTOR)},obs-south:viewer:{credential_for(south)}:SUITE-SOUTH"
    d, base = console(deployment, users, "aa-hcp-10s.yaml")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    sign_in(page, base, INSPECTOR)
    page.locator("#live.on").wait_for(timeout=30_000)
    now = dt.datetime.now(dt.UTC)
    for case, suite in (("CR-NIGHT-1", "SUITE-NORTH"), ("CR-NIGHT-2", "SUITE-SOUTH")):
        d.send(detention(case, at=now, suite=suite))
        d.send(cloudevent(case, "custody.appropriate_adult.requested", at=now))
    d.send(cloudevent("CR-NIGHT-1", "custody.healthcare.requested", at=now))

    # One block per child; one card per deadline: the AA warning gave way to its breach.
    night1 = page.locator('section.child-group[data-child="CR-NIGHT-1"]')
    night1.locator("li.card.breach").nth(1).wait_for(timeout=40_000)
    page.wait_for_timeout(1500)
    assert night1.locator("li.card").count() == 2 and night1.locator("li.card.warning").count() == 0
    assert page.locator('section.child-group[data-child="CR-NIGHT-2"] li.card.breach').count() == 1
    page.wait_for_function("document.title === '(3) Watchkeeper console'", timeout=10_000)
    assert page.locator("li.card.new").count() >= 1, "alerts that arrived live stand out"
    assert "Raised " in night1.inner_text() and re.search(r"\d\d:\d\d:\d\d (GMT|BST)", night1.inner_text())
    shot(page, "10-board-by-child")

    # Search, and a filter never hides a breach without saying so.
    page.get_by_label("Case or record").fill("night-2")
    page.locator("#hidden-by-filters:not([hidden])").wait_for(timeout=5_000)
    assert "2 open alerts hidden by the filters, 2 of them in breach" in page.locator("#hidden-by-filters").inner_text()
    assert page.locator("section.child-group").count() == 1
    page.get_by_role("button", name="Show all").click()
    page.get_by_label("Area or suite").fill("suite-north")
    assert page.locator("section.child-group").count() == 1 and night1.is_visible()
    shot(page, "11-board-filtered")
    page.get_by_role("button", name="Show all").click()

    # One acknowledgement covers the deadline.
    aa_breach = night1.locator("li.card.breach", has_text="Appropriate adult")
    aa_breach.get_by_role("button", name="Acknowledge").click()
    page.locator("#ack-confirm").click()
    night1.locator("li.card.breach", has_text="Appropriate adult").locator('[data-state="acknowledged"]').wait_for(
        timeout=30_000
    )

    # The case page: clocks first, then what to acknowledge, then what happened in plain words.
    page.goto(f"{base}/console#case/CR-NIGHT-1")
    page.locator("#case-body table.case-clocks").wait_for(timeout=10_000)
    body = page.locator("#case-body").inner_text()
    assert body.index("Running clocks") < body.index("Open alerts") < body.index("What happened")
    review = page.locator("table.case-clocks tr", has_text="Next detention review due")
    assert review.count() == 1 and "overdue" not in review.inner_text(), "a running clock is not an alarm"
    assert page.locator("#case-body li.card.breach").get_by_role("button", name="Acknowledge").count() >= 1
    assert "appropriate adult requested" in body and "custody.appropriate_adult.requested" not in body
    shot(page, "12-case-page")
    audit = d.read("alert-transitions", until=lambda r: any(x.get("kind") == "case_viewed" for x in r), timeout=20)
    viewed = [x for x in audit if x.get("kind") == "case_viewed"]
    assert [(x["case"], x["by"]) for x in viewed] == [("CR-NIGHT-1", "insp-4411")], "who looked, on the record"

    # Someone limited to the south suite sees nothing of the north.
    other = browser.new_page()
    sign_in(other, base, south)
    other.locator('section.child-group[data-child="CR-NIGHT-2"]').wait_for(timeout=30_000)
    assert other.locator('section.child-group[data-child="CR-NIGHT-1"]').count() == 0
    assert other.locator("#hidden-by-filters").is_hidden(), "nothing of theirs is hidden: the rest is not theirs"
    other.get_by_role("link", name="Clocks").click()
    other.locator("#children li", has_text="CR-NIGHT-2").wait_for(timeout=10_000)
    assert other.locator("#children li", has_text="CR-NIGHT-1").count() == 0
    other.goto(f"{base}/console#case/CR-NIGHT-1")
    other.get_by_text("This case is not on the board.").wait_for(timeout=10_000)
