"""Clocks and rules: the pure deadline engine, the policy language, and the Faust agents around them."""
