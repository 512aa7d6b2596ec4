"""Custody: clocks that run for a detained child (appropriate adult, reviews, detention limits).

The rules themselves are data (agents/packs/custody.yaml); this module only wires the
custody input topic to the engine.
"""

from agents.shell import domain_agent

custody = domain_agent("custody")
