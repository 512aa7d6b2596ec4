"""Baseline for benchmark (b): a plain Faust agent that only decodes each event.

BASELINE_TOPIC=topic[,topic...] BASELINE_APP=... python bench/baseline_faust.py worker -l warning
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import faust

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from streams.validation import decode_event

app = faust.App(
    os.environ["BASELINE_APP"],
    broker=f"kafka://{os.environ.get('WATCHKEEPER_BOOTSTRAP_SERVERS', '127.0.0.1:19092')}",
    store="memory://",
    consumer_auto_offset_reset="earliest",
    web_port=int(os.environ.get("BASELINE_WEB_PORT", "6199")),
    topic_allow_declare=False,
    stream_recovery_delay=0.2,
)
topic = app.topic(*os.environ["BASELINE_TOPIC"].split(","), key_serializer="raw", value_serializer="raw")


processed = 0


@app.agent(topic, concurrency=1)
async def decode_only(stream: faust.StreamT[bytes]) -> None:
    global processed
    async for raw in stream:
        decode_event(raw, now=dt.datetime.now(dt.UTC))
        processed += 1


@app.page("/count")
async def count(view: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return view.json({"processed": processed})


if __name__ == "__main__":
    app.main()
