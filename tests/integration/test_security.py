"""The door, tried as an attacker would, on real workers, the real broker and real HTTP.

Two workers of one deployment share the access log, so a session made on one is honoured on
the other, and a revocation or a sign-out on one ends it on the other within seconds."""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alerts.tokens import credential_for, generate_token
from tests.alerts.helpers import LINK_KEY, SESSION_KEY
from tests.conftest import REPO, Deployment, Receiver, cloudevent, detention, free_port

pytestmark = pytest.mark.broker
ADMIN, INSPECTOR, VIEWER = generate_token(), generate_token(), generate_token()
METRICS_TOKEN = generate_token()
CONSOLE = {"X-Watchkeeper": "console"}


def http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def sign_in(base: str, token: str) -> str:
    status, headers, body = http(
        "POST", f"{base}/console/login", urllib.parse.urlencode({"token": token}).encode(), CONSOLE
    )
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return cookie.split(";", 1)[0]


def me(base: str, cookie: str) -> int:
    return http("GET", f"{base}/console/api/me", headers={"Cookie": cookie})[0]


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def two_workers(
    deployment: Callable[..., Deployment], tmp_path: Path
) -> Iterator[tuple[Deployment, str, str, Receiver]]:
    hook = Receiver()
    ports = free_port(), free_port()
    notify = tmp_path / "notify.yaml"
    notify.write_text(f"""
receivers: {{hook: {{url: "{hook.url}"}}}}
roles: {{custody_sergeant: [hook]}}
policies: {{only: {{tiers: [{{role: custody_sergeant}}]}}}}
routes: [{{policy: only}}]
users:
  - {{user: admin-1, access: admin, token_hash: "{credential_for(ADMIN)}"}}
  - {{user: insp-4411, access: inspector, token_hash: "{credential_for(INSPECTOR)}"}}
  - {{user: viewer-1, access: viewer, token_hash: "{credential_for(VIEWER)}"}}
ack_link_secret: "{LINK_KEY}"
session_secret: "{SESSION_KEY}"
public_url: "http://127.0.0.1:{ports[0]}"
""")
    d = deployment(
        WATCHKEEPER_NOTIFY=str(notify),
        WATCHKEEPER_POLICY_OVERRIDES=str(REPO / "tests" / "integration" / "aa-4s.yaml"),
        WATCHKEEPER_METRICS_TOKEN=METRICS_TOKEN,
    )
    d.start_worker(WATCHKEEPER_WEB_PORT=str(ports[0]))
    d.start_worker(WATCHKEEPER_WEB_PORT=str(ports[1]))
    yield d, f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", hook
    hook.down()


def test_sessions_hold_across_workers_and_end_everywhere_on_revocation_or_sign_out(
    two_workers: tuple[Deployment, str, str, Receiver],
) -> None:
    d, a, b, _ = two_workers
    inspector = sign_in(a, INSPECTOR)
    eventually(lambda: me(b, inspector) == 200)

    stream = urllib.request.urlopen(
        urllib.request.Request(f"{b}/console/api/stream", headers={"Cookie": inspector}), timeout=10
    )
    assert stream.readline().startswith(b"event: hello")

    admin = sign_in(a, ADMIN)
    forged = http("POST", f"{a}/console/api/users/insp-4411/revoke", b"", {"Cookie": inspector, **CONSOLE})
    assert forged[0] == 403, "only an admin revokes"
    assert http("POST", f"{a}/console/api/users/insp-4411/revoke", b"", {"Cookie": admin, **CONSOLE})[0] == 202
    took = eventually(lambda: me(b, inspector) == 401)
    print(f"revocation reached the second worker in {took:.2f}s")
    started = time.monotonic()
    while not stream.readline().startswith(b"event: signed-out"):
        assert time.monotonic() - started < 5, "an open event stream ends when its session does"
    stream.close()
    assert me(a, inspector) == 401 and me(b, admin) == 200

    again = sign_in(b, INSPECTOR)
    eventually(lambda: me(a, again) == 200)  # a new sign-in after the revocation works
    assert http("POST", f"{b}/console/logout", b"", {"Cookie": again, **CONSOLE})[0] == 200
    eventually(lambda: me(a, again) == 401)
    assert d.workers[0].proc.poll() is None and d.workers[1].proc.poll() is None


def test_an_ack_link_cannot_become_a_session_a_viewer_cannot_ack_and_a_link_works_once(
    two_workers: tuple[Deployment, str, str, Receiver],
) -> None:
    d, a, b, hook = two_workers
    now = dt.datetime.now(dt.UTC)
    d.send(detention("CR-SEC-1", at=now))
    d.send(cloudevent("CR-SEC-1", "custody.appropriate_adult.requested", at=now))
    eventually(lambda: any(p["data"]["stage"] == "breach" for p in hook.bodies()), timeout=60)
    page = next(p["data"] for p in hook.bodies() if p["data"]["stage"] == "breach")
    link = page["links"]["acknowledge"]
    token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["token"][0]

    # The forgery of issue 11: the link's token as a session cookie, or as a sign-in token.
    for base in (a, b):
        assert me(base, f"wk_session={token}") == 401
        assert http("GET", f"{base}/console/api/board", headers={"Cookie": f"wk_session={token}"})[0] == 401
    login = http("POST", f"{a}/console/login", urllib.parse.urlencode({"token": token}).encode(), CONSOLE)
    assert login[0] == 401

    # A viewer's bearer token and a viewer's session cannot acknowledge.
    ack_url = f"{b}/alerts/{page['alert_id']}/ack"
    assert http("POST", ack_url, b"", {"Authorization": f"Bearer {VIEWER}"})[0] == 403
    viewer = sign_in(a, VIEWER)
    console_ack = f"{a}/console/api/alerts/{page['alert_id']}/ack"
    assert http("POST", console_ack, b"{}", {"Cookie": viewer, **CONSOLE})[0] == 403

    # The link, used on one worker, is spent on the other too.
    assert http("GET", link)[0] == 200
    confirm = urllib.parse.urlencode({"token": token}).encode()
    assert http("POST", f"{a}/ack", confirm)[0] == 202
    eventually(lambda: http("POST", f"{b}/ack", confirm)[0] == 409)
    transitions = d.read("alert-transitions", until=lambda t: any(x["state"] == "acknowledged" for x in t))
    acks = [t["by"] for t in transitions if t["state"] == "acknowledged"]
    assert acks == ["custody_sergeant (link sent to hook)"], acks


def test_every_response_is_hardened_and_no_malformed_request_gets_a_500(
    two_workers: tuple[Deployment, str, str, Receiver],
) -> None:
    d, a, _, _ = two_workers
    for path in ("/", "/console", "/ack?token=x", "/metrics", "/nowhere", "/console/api/me"):
        status, headers, _ = http("GET", f"{a}{path}")
        assert status < 500, path
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), path
        assert headers.get("X-Content-Type-Options") == "nosniff", path
    status, headers, _ = http("POST", f"{a}/alerts/x/ack", b"")
    assert status == 401 and headers.get("X-Frame-Options") == "DENY"

    # /metrics carries suites and areas as labels: it needs its own token.
    assert http("GET", f"{a}/metrics")[0] == 401
    status, _, text = http("GET", f"{a}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200 and "watchkeeper_events_total" in text

    inspector = sign_in(a, INSPECTOR)
    malformed = [
        ("GET", "/console/api/me", None, {"Cookie": "wk_session=\u00ff\u00fe.sig"}),
        ("GET", "/console/api/me", None, {"Cookie": "wk_session=" + "A" * 5000}),
        ("POST", "/console/api/alerts/00000000-0000-0000-0000-000000000000/ack", b"[1, 2]", {"Cookie": inspector}),
        ("POST", "/console/api/alerts/00000000-0000-0000-0000-000000000000/ack", b"\xff{", {"Cookie": inspector}),
        ("POST", "/console/api/alerts/not%0Aan%0Aid/ack", b"{}", {"Cookie": inspector}),
        ("POST", "/alerts/FORGED%0AWARNING%20forged/ack", b"", {"Authorization": f"Bearer {INSPECTOR}"}),
        ("POST", "/ack", b"token=%ff%fe", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("GET", "/ack?token=" + "x" * 5000, None, {}),
    ]
    for method, path, body, headers in malformed:
        status, _, _ = http(method, f"{a}{path}", body, {**CONSOLE, **headers})
        assert 400 <= status < 500, (path, status)
    for worker in d.workers:
        log = worker.output()
        assert "Traceback" not in log and "forged" not in log.lower(), log[-2000:]

    # Login CSRF: a cross-site form has neither the console's header nor this origin.
    form = urllib.parse.urlencode({"token": INSPECTOR}).encode()
    assert http("POST", f"{a}/console/login", form)[0] == 403
    evil = {**CONSOLE, "Origin": "https://evil.example"}
    assert http("POST", f"{a}/console/login", form, evil)[0] == 403


def test_failed_sign_ins_and_acks_are_throttled_and_counted(
    two_workers: tuple[Deployment, str, str, Receiver],
) -> None:
    _, a, b, _ = two_workers
    statuses = []
    started = time.monotonic()
    for _ in range(30):
        form = urllib.parse.urlencode({"token": generate_token()}).encode()
        statuses.append(http("POST", f"{b}/console/login", form, CONSOLE)[0])
    print(f"30 wrong tokens in {time.monotonic() - started:.2f}s: {statuses}")
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
    status, headers, _ = http(
        "POST", f"{b}/alerts/00000000-0000-0000-0000-000000000000/ack", b"", {"Authorization": f"Bearer {INSPECTOR}"}
    )
    assert status == 429 and int(headers["Retry-After"]) >= 1, "a throttled client waits, even with a good token"
    assert me(a, sign_in(a, INSPECTOR)) == 200, "the other worker's door is its own"
    _, _, text = http("GET", f"{b}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    found = dict(re.findall(r'watchkeeper_auth_failures_total\{outcome="(\w+)",path="console"\} (\S+)', text))
    assert float(found["refused"]) == 10 and float(found["throttled"]) >= 20
