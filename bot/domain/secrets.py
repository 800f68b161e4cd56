"""Secret values kept out of anything shown: command output, log lines, errors, messages."""

from __future__ import annotations

from collections.abc import Iterable

# rollbot's own secrets: never handed to runbook commands, never shown. The config adds every
# other secret it names in a `*_env` key (`Settings.secret_names`).
OWN_SECRETS = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "ROLLBOT_API_TOKEN",
        "ROLLBOT_CLIENT_TOKEN",
        "DATABASE_URL",
    }
)

# Shorter values would blank out ordinary words; no real token is this short.
MIN_SECRET = 4
MASK = "***"


class Redactor:
    """Replaces every known secret value in a text by `***` (longest first, so a secret
    that contains another is masked whole)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        self.add(*values)

    def add(self, *values: str) -> None:
        """Remember more secret values."""
        found = {v for v in (*self._values, *values) if v and len(v) >= MIN_SECRET}
        self._values = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text
