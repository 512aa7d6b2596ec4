"""The closed value sets every layer speaks, each defined once: one word, one meaning, one type.

They sit here, at the lowest layer that uses them (the policy and the engine), so that the
alert layer, the console and the receivers' payloads read the same words the rules wrote.
"""

from __future__ import annotations

from typing import Final, Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
"""How urgent a stage of a rule is, set per stage in the policy (warning, breach)."""
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "high", "medium", "low", "info")
"""Most severe first: the console's order."""

Grade = Literal["statute", "code_of_practice", "guidance", "local_standard"]
"""How binding a rule's basis is: an Act; a statutory Code of Practice (PACE Code C); published
guidance (statutory guidance, APP, a Home Office circular, Code C's notes for guidance); or a
local standard, a threshold no national text fixes."""

RuleKind = Literal["deadline", "chain", "immediate"]
"""A clock with one deadline; a chain of deadlines, each set by the last compliant action; or an
event that breaks the rule by itself."""

StageKind = Literal["warning", "breach"]
"""What a stage of a deadline is: a warning before it, or the breach itself."""

AlertStatus = Literal["firing", "updated", "satisfied", "cleared", "closed", "retracted", "superseded"]
"""What the engine says about one alert, revision by revision. firing: raised. updated: its
deadline moved (a pause, a resumption). satisfied: the required action was recorded in time
(at the deadline instant included). cleared: the clock ended or moved before its deadline
passed. closed: the deadline was breached and the clock has since ended (the action taken
late, custody ended in breach): the breach stands, and the reason says how it ended.
retracted: the complete records show it never happened, and say why. superseded: a later
stage of the same deadline was raised (the warning gives way to the breach: one alert per
clock is open, and pages, at a time; the record keeps both)."""
