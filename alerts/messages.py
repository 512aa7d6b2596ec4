"""The messages the alert layer's agents pass each other, and how a notification becomes them.

- ``Job``: one delivery to make, put on the outbox topic (keyed by receiver) by the dispatcher
  and read by the outbox agent; the outbox sends the same job back with ``finished`` set when
  the delivery is over.
- ``Receipt``: one delivery attempt, put on the deliveries topic by the outbox.
- ``AckCommand``: a person's acknowledgement, put on the alert-commands topic (keyed by alert
  id) by the web endpoints and applied by the dispatcher that owns the alert.

Pure: building a job's links signs an ack token with the configured key, but reads no clock.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator
from typing import Final

import msgspec

from agents.alert import Alert
from alerts.config import NotifyConfig, Receiver
from alerts.lifecycle import Action, Changes, State
from alerts.retry import Verdict
from alerts.tokens import ack_token


class Job(msgspec.Struct, frozen=True):
    """One delivery to make: the outbox message. ``webhook_id`` is stable across retries."""

    webhook_id: str
    receiver: str
    action: Action
    state: State
    alert: Alert
    links: dict[str, str] = {}
    finished: bool = False
    """A marker the outbox sends itself when the delivery is over."""


class AckCommand(msgspec.Struct, frozen=True):
    alert_id: str
    by: str
    how: str
    at: dt.datetime


class Receipt(msgspec.Struct, frozen=True):
    """One delivery attempt: what was sent where, and what came back. Goes to the deliveries topic."""

    webhook_id: str
    receiver: str
    attempt: int
    at: dt.datetime
    status: int | None
    verdict: Verdict
    error: str | None = None
    wait_before_next: float | None = None


JOB_ENCODER: Final = msgspec.json.Encoder()
JOB_DECODER: Final = msgspec.json.Decoder(Job)
COMMAND_ENCODER: Final = msgspec.json.Encoder()
COMMAND_DECODER: Final = msgspec.json.Decoder(AckCommand)


def links_for(config: NotifyConfig, alert: Alert, role: str, receiver: Receiver, link_id: str) -> dict[str, str]:
    """Every page links to the case in the console (sign-in required). Only pages to people's
    channels also carry a one-click ack link, naming the role and receiver it was sent to;
    a machine receiver's stored alerts can be read by whoever reaches its API."""
    links = {"console": f"{config.public_url}/console#case/{urllib.parse.quote(alert.case, safe='')}"}
    if config.ack_link_secret is not None and receiver.ack_links:
        token = ack_token(config.ack_link_secret, alert.alert_id, role, receiver.name, link_id)
        links["acknowledge"] = f"{config.public_url}/ack?token={token}"
    return links


def jobs_for(config: NotifyConfig, changes: Changes) -> Iterator[Job]:
    """One job per receiver of each notified role (a re-send: only to receivers that need one)."""
    for note in changes.notifications:
        for receiver in config.receivers_for(note.role):
            if note.refresh and receiver.resend is None:
                continue  # a re-send keeps Alertmanager's copy alive; a person's channel hears once
            webhook_id = f"{note.delivery_key}.{receiver.name}"
            links = links_for(config, note.alert, note.role, receiver, webhook_id) if note.action == "trigger" else {}
            yield Job(webhook_id, receiver.name, note.action, note.state, note.alert, links)
