"""Assembling a worker for a unit test: the real assembly (worker/main.py), its own settings."""

from __future__ import annotations

from worker.main import Worker, build
from worker.settings import Settings


def assemble(**env: str) -> Worker:
    """``build`` with test settings: tables in memory, the console on, no broker contacted."""
    settings = Settings.from_env({"WATCHKEEPER_STORE": "memory://", "WATCHKEEPER_DATA_DIR": "/tmp/wk-unit", **env})
    return build(settings)


class Message:
    """A Kafka message as an agent receives it (Faust's ``Message``), for the shells' unit tests."""

    def __init__(
        self, topic: str, value: bytes | None, key: bytes | None = None, partition: int = 0, offset: int = 0
    ) -> None:
        self.topic, self.value, self.key, self.partition, self.offset = topic, value, key, partition, offset
        self.timestamp = 1_700_000_000.0

    def __repr__(self) -> str:
        return f"Message({self.topic}[{self.partition}]@{self.offset})"
