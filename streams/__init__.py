"""Events in: the Faust app, topics, the event contract, and validation of raw input."""
