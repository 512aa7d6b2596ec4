"""Police protection (Children Act 1989 s.46): the 72-hour limit and the duties that run inside it."""

from agents.shell import domain_agent

protection = domain_agent("protection")
