"""Alerts out: what happens to an alert once raised (lifecycle, escalation, payloads,
acknowledgement) and what the console shows. Pure."""
