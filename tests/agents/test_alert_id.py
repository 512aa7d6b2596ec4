"""An alert's id is the RFC 4122 name-based (SHA-1) UUID of its rule, case, clock and stage:
receivers and the record already hold ids made with ``uuid.uuid5``, so the fast path must
give exactly the same string for every name."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from agents.alert import ALERT_ID, ALERT_NAMESPACE, alert_id, uuid5


@given(st.text())
def test_the_fast_uuid5_is_the_standard_library_s_for_any_name(name: str) -> None:
    assert uuid5(ALERT_NAMESPACE, name) == str(uuid.uuid5(ALERT_NAMESPACE, name))


def test_an_alert_id_is_a_version_5_uuid_of_its_four_parts() -> None:
    made = alert_id("custody.appropriate_adult.arrival", "CR-1", "1#0", "breach")
    assert ALERT_ID.fullmatch(made)
    assert uuid.UUID(made).version == 5
    assert made == str(uuid.uuid5(ALERT_NAMESPACE, "custody.appropriate_adult.arrival\x1fCR-1\x1f1#0\x1fbreach"))
