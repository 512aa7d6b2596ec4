"""Events in: the event contract, and the validation that turns raw bytes into a typed event
or a reason to refuse them. Pure."""
