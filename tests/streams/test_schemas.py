from __future__ import annotations

import json
import re

from streams.contract import EVENT_TYPES
from streams.schemas import render_all
from tests.conftest import REPO

SCHEMAS = REPO / "docs" / "schemas"
PERSONAL = re.compile(r"(^|_)(name|forename|surname|address|postcode|dob|date_of_birth|birth|phone|email|nhs)(_|$)")


def test_every_event_type_has_a_committed_schema_that_is_current() -> None:
    rendered = render_all()
    assert {f"{t}.json" for t in EVENT_TYPES} <= set(rendered)
    for name, text in rendered.items():
        path = SCHEMAS / name
        assert path.is_file(), f"missing {path}: run `make schemas`"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `make schemas`"


def test_schemas_require_both_times_and_a_subject() -> None:
    for event_type in EVENT_TYPES:
        schema = json.loads((SCHEMAS / f"{event_type}.json").read_text())
        body = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
        assert {"time", "recordedtime", "subject", "id", "source", "type", "specversion"} <= set(body["required"])
        assert body["properties"]["type"]["enum"] == [event_type]


def test_the_contract_declares_no_field_that_names_personal_data() -> None:
    for event_type, model in EVENT_TYPES.items():
        for field in model.__struct_fields__:
            assert not PERSONAL.search(field), f"{event_type}.{field} looks like personal data"
