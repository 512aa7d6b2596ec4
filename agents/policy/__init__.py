"""The policy language: rules as YAML data, validated on load, overridable per force.

Three kinds of rule:

``deadline``
    A clock. It is started, stopped (satisfied), cancelled, paused, resumed or reset by
    events. Its target is either elapsed time (``target: 2h``, measured in real hours and
    paused only for the named reasons the rule lists) or a calendar deadline (``deadline:``
    next school day, working days, a local-time window). A recorded authorisation can
    extend it (``extensions``), never beyond ``max``.
``chain``
    Deadlines set from the time of the last compliant action. The first is due ``first``
    after the anchor. Each ``step`` event at time t sets the next to min(t, the deadline it
    met) + ``interval``, so an early review brings the next one forward and a late or
    postponed one keeps the original schedule (PACE s.40).
``immediate``
    An event alone breaks the rule: a child's review by telephone, a review while asleep.

Every rule has an id and version, a title, a domain, ``applies_when`` on case facts,
warnings (percentages of the span, ``-30m`` before the deadline, ``+2h`` after the start),
a severity per stage, a legal basis (or "local standard"), an explanation and an action.

Three modules, one job each: ``schema`` (what a file may say), ``model`` (the rules the
engine reads) and ``loader`` (from files to the model, every error naming the file, the
rule and the field).
"""

from agents.policy.loader import PACKS_DIR, PolicyError, default_packs, load_policy
from agents.policy.model import (
    LOCAL_STANDARD,
    CalendarDeadline,
    Condition,
    Extension,
    Policy,
    Rule,
    Selector,
    WarningPoint,
    all_hold,
)
from agents.policy.schema import OVERRIDABLE

__all__ = [
    "LOCAL_STANDARD",
    "OVERRIDABLE",
    "PACKS_DIR",
    "CalendarDeadline",
    "Condition",
    "Extension",
    "Policy",
    "PolicyError",
    "Rule",
    "Selector",
    "WarningPoint",
    "all_hold",
    "default_packs",
    "load_policy",
]
