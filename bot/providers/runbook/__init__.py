"""Runbook steps (flag, command, http, wait-for-health) and the engine that runs them."""
