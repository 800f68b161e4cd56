"""rollbot: phased feature-flag rollouts, sign-offs, rollbacks and incidents from Slack."""

__version__ = "0.1.0"
