"""Alerts: the alert model, and where alerts go (console, webhook)."""
