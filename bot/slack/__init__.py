"""The Slack adapter: Bolt app, listeners, Block Kit builders and the rollout notifier."""
