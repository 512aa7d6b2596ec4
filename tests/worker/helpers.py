"""Assembling a worker for a unit test: the real assembly (worker/main.py), its own settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

from worker.main import Worker, build
from worker.settings import Settings


def assemble(**env: str) -> Worker:
    """``build`` with test settings: tables in memory, the console on, no broker contacted."""
    settings = Settings.from_env({"WATCHKEEPER_STORE": "memory://", "WATCHKEEPER_DATA_DIR": "/tmp/wk-unit", **env})
    return build(settings)


def assemble_with_users(prefix: str, users: list[tuple[str, str, str]], **env: str) -> Worker:
    """``assemble`` with people and systems who hold tokens: (user, access, token) each."""
    from alerts.tokens import credential_for
    from tests.alerts.helpers import SESSION_KEY

    return assemble(
        WATCHKEEPER_TOPIC_PREFIX=prefix,
        WATCHKEEPER_CONSOLE_USERS=",".join(f"{u}:{a}:{credential_for(t)}" for u, a, t in users),
        WATCHKEEPER_SESSION_SECRET=SESSION_KEY,
        **env,
    )


class Message:
    """A Kafka message as an agent receives it (Faust's ``Message``), for the shells' unit tests."""

    def __init__(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int = 0, offset: int = 0
    ) -> None:
        self.topic, self.value, self.key, self.partition, self.offset = topic, value, key, partition, offset
        self.timestamp = 1_700_000_000.0

    def __repr__(self) -> str:
        return f"Message({self.topic}[{self.partition}]@{self.offset})"


class Broker:
    """The records a shell hands on, in order, by topic: each is 'on the broker' once the
    ``sender``'s call returns, or once the acknowledgement a ``producer`` returns is awaited."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []

    def sender(self, topic: str) -> Any:
        async def send(key: bytes, value: bytes) -> None:
            self.records.append((topic, key, value))

        return send

    def producer(self, topic: str) -> Any:
        async def produce(key: bytes, value: bytes) -> Awaitable[None]:
            self.records.append((topic, key, value))
            return asyncio.sleep(0)

        return produce

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(value) for t, _, value in self.records if t == topic]
