"""What the audit topic (``<prefix>.alert-transitions``) holds besides alert transitions and
silences: who looked at a child's case in the console. In policing, access to a child's
record is itself audited; the console writes one of these for each person's view of a case.

Keyed ``view:<case>`` so every view of one case is in order on one partition.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import msgspec

from alerts.config import Access

VIEW_REPEAT: Final = dt.timedelta(minutes=5)
"""A person's views of one case closer together than this are one view: the console reloads a
case page on every change while it is open."""


class CaseViewed(msgspec.Struct, frozen=True):
    case: str
    by: str
    access: Access
    at: dt.datetime
    kind: str = "case_viewed"
    """Tells this record apart from a transition or a silence change on the same topic."""


def view_key(case: str) -> bytes:
    return f"view:{case}".encode()
