"""Incidents and missing-child episodes: response, risk assessment, supervision and notifications."""

from agents.shell import domain_agent

incidents = domain_agent("incidents")
