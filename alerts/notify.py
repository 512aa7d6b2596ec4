"""The notifier: reads the alerts topic and tells people, once per alert id and revision.

Alerts are keyed by id, so all copies of one alert land on one partition and the
``notified`` table (co-partitioned with the alerts topic) lets exactly one worker drop the
duplicates that at-least-once processing can produce.
"""

from __future__ import annotations

import aiohttp
import faust

from alerts.console import format_line
from alerts.model import ALERT_DECODER
from alerts.webhook import post_alert
from streams import metrics
from streams.app import RAW_TABLE, app, settings
from streams.topics import alerts_topic

notified = app.Table("notified", partitions=settings.partitions, **RAW_TABLE)
_session: aiohttp.ClientSession | None = None


async def _http() -> aiohttp.ClientSession:
    global _session
    if _session is None or _session.closed:
        _session = aiohttp.ClientSession()
    return _session


@app.agent(
    app.topic(alerts_topic(settings), key_serializer="raw", value_serializer="raw"), name="notifier", concurrency=1
)
async def notifier(stream: faust.StreamT[bytes]) -> None:
    async for raw in stream:
        alert = ALERT_DECODER.decode(raw)
        seen_key = f"{alert.alert_id}:{alert.revision}".encode()
        if notified.get(seen_key) is not None:
            metrics.NOTIFICATIONS.labels("console", "duplicate_dropped").inc()
            continue
        print(format_line(alert), flush=True)
        metrics.NOTIFICATIONS.labels("console", "delivered").inc()
        if settings.webhook_url:
            await post_alert(await _http(), settings.webhook_url, alert)
        notified[seen_key] = b"1"
