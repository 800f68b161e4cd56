"""The ASGI app: Slack events, health, metrics and the built-in flag API."""
