"""Post one record to Watchkeeper over HTTP: the smallest producer a force's integrator needs.

    WATCHKEEPER_URL=https://watchkeeper.example.police.uk WATCHKEEPER_INGEST_TOKEN=... \\
        python post_event.py

Standard library only. The event is a child's detention authorised, in structured mode; the
response says, per event, accepted (on the broker), duplicate or rejected (with the reason).
Send the same event again after a network error: the same ``source`` and ``id`` make it a
harmless duplicate, never a second record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid


def detention_authorised(custody_record: str, suite: str, age: int) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"custody/{custody_record}/authorised")),  # stable: retries dedupe
        "source": "custody-system",
        "type": "custody.detention.authorised",
        "subject": custody_record,  # the pseudonymous case reference, never a name
        "time": now,  # when it happened
        "recordedtime": now,  # when it was entered in the custody system
        "data": {"relevant_time": now, "age_years": age, "custody_suite": suite},
    }


def post(url: str, token: str, events: list[dict[str, object]]) -> list[dict[str, object]]:
    """POST a batch; wait and send again on 429 (busy) or 503 (broker unavailable)."""
    body = json.dumps(events).encode()
    for _ in range(10):
        request = urllib.request.Request(
            f"{url}/events",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents-batch+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return list(json.loads(response.read())["results"])
        except urllib.error.HTTPError as error:
            if error.code not in (429, 503):
                raise
            time.sleep(int(error.headers.get("Retry-After", "1")))
    raise RuntimeError("Watchkeeper stayed busy: try again later")


if __name__ == "__main__":
    url, token = os.environ["WATCHKEEPER_URL"], os.environ["WATCHKEEPER_INGEST_TOKEN"]
    results = post(url, token, [detention_authorised("CR-EXAMPLE-1", "SUITE-A", 15)])
    for result in results:
        print(result["outcome"], result.get("reason", ""))
    sys.exit(0 if all(r["outcome"] in ("accepted", "duplicate") for r in results) else 1)
