"""JSON Schema for every event type, for a force's integrators to build against.

Generated from the same msgspec models that validate input, so the schema cannot drift from
what the worker accepts. ``make schemas`` (``watchkeeper schemas --out docs/schemas``) writes them; a test fails
if the committed files are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import msgspec

from streams.contract import EVENT_TYPES, AwareDatetime, Ref, domain_of

NOT_DECLARED = "Fields not declared here are dropped on receipt and never forwarded."


def event_schema(event_type: str) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    envelope = msgspec.defstruct(
        "".join(part.title() for part in event_type.replace("_", ".").split(".")) + "Event",
        [
            ("specversion", Literal["1.0"]),
            ("id", str),
            ("source", str),
            ("type", Literal[event_type]),
            ("subject", Ref),
            ("time", AwareDatetime),
            ("recordedtime", AwareDatetime),
            ("data", model),
            ("datacontenttype", Literal["application/json"], "application/json"),
        ],
        forbid_unknown_fields=False,
    )
    schema: dict[str, Any] = msgspec.json.schema(envelope)
    name = schema["$ref"].rsplit("/", 1)[-1]
    body = schema["$defs"][name]
    body["description"] = (
        f"CloudEvents 1.0 structured-mode event '{event_type}' for the {domain_of(event_type)} input topic, "
        "keyed by subject (the case). 'time' is when it happened, the extension attribute 'recordedtime' "
        f"when it was entered in the source system. {NOT_DECLARED}"
    )
    props = body["properties"]
    props["subject"]["description"] = "The case: custody record, police-protection record, incident or missing episode."
    props["time"]["description"] = "When the thing happened (RFC 3339 with offset)."
    props["recordedtime"]["description"] = "When it was entered in the source system (RFC 3339 with offset)."
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{event_type}.json", **schema}


def render_all() -> dict[str, str]:
    """File name → content for every event type, plus an index."""
    files = {f"{t}.json": json.dumps(event_schema(t), indent=2, sort_keys=True) + "\n" for t in sorted(EVENT_TYPES)}
    index = {t: {"domain": domain_of(t), "schema": f"{t}.json"} for t in sorted(EVENT_TYPES)}
    files["index.json"] = json.dumps(index, indent=2) + "\n"
    return files


def write_all(directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    files = render_all()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return sorted(files)
