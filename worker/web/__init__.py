"""The worker's web server: the door (sessions, throttles), the ack endpoints, the console and its feed."""
