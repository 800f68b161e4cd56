"""Flag providers: where a rollout's percentage is actually set."""
