"""Durations as people write them in policy files: ``90s``, ``30m``, ``4h``, ``1h30m``, ``3d``."""

from __future__ import annotations

import datetime as dt
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``1h30m``-style text; raise ValueError with the offending text otherwise."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 4h, 1h30m, 3d)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(cleaned))
    return dt.timedelta(seconds=seconds)


def format_duration(delta: dt.timedelta) -> str:
    """Inverse of parse_duration for display: ``1h30m``, ``45s``, ``72h`` (legal clocks are
    spoken of in hours, so no days)."""
    total = round(abs(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (seconds, "s")) if v]
    return ("-" if delta.total_seconds() < 0 else "") + ("".join(parts) or "0s")
