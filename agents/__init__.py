"""Clocks and rules: the policy language and its packs, and the deadline engine that keeps
every clock of a case and says what is due. Pure."""
