"""POST alerts as JSON to a configured URL, with a few quick retries.

The durable outbox, signing, receiver formats and fallback come with the escalation work;
this sender never raises, so a dead receiver cannot stop the worker, and every attempt's
outcome is counted.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from alerts.model import ALERT_ENCODER, Alert
from streams import metrics

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.5, 1.0, 2.0)


async def post_alert(session: aiohttp.ClientSession, url: str, alert: Alert) -> bool:
    body = ALERT_ENCODER.encode(alert)
    headers = {"content-type": "application/json", "webhook-id": f"{alert.alert_id}.{alert.revision}"}
    for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
        await asyncio.sleep(delay)
        try:
            async with session.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=5)) as reply:
                if 200 <= reply.status < 300:
                    metrics.NOTIFICATIONS.labels("webhook", "delivered").inc()
                    return True
                if 400 <= reply.status < 500 and reply.status not in (408, 429):
                    break
                log.warning("webhook answered %s (attempt %d)", reply.status, attempt + 1)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("webhook unreachable (attempt %d): %s", attempt + 1, type(exc).__name__)
    metrics.NOTIFICATIONS.labels("webhook", "failed").inc()
    log.error("webhook delivery failed for alert %s", alert.alert_id)
    return False
