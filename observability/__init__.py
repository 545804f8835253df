"""The operator's view of the bot: Prometheus metrics, the /metrics and /healthz listener, and
the log formats. An adapter: it implements `videojobs.ports.Metrics`; the core never imports it.
"""
