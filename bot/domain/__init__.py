"""Pure rules of rollbot: no Slack, no HTTP, no SQL and no clock reads (time is passed in)."""
