"""Development tools, for a checkout only (not installed): the demo, the Grafana dashboards
generator, and the local helpers the demo and the tests share."""
