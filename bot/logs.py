"""Log lines without secrets: every secret value rollbot knows is masked in every record."""

from __future__ import annotations

import logging

from bot.domain.secrets import Redactor


class RedactingFilter(logging.Filter):
    """Masks secret values in a record's message and its exception text."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        message = record.getMessage()
        masked = self.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def redact_logs(secrets: list[str]) -> None:
    """Mask `secrets` in everything the root logger's handlers write."""
    log_filter = RedactingFilter(Redactor(secrets))
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)
