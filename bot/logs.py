"""Log lines without secrets: every secret value rollbot knows is masked in every record."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.domain.secrets import Redactor


class RedactingFilter(logging.Filter):
    """Masks secret values in a record's message and its exception text."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        # The arguments are masked one by one and kept: a formatter may read them (uvicorn's
        # access lines take the client, method and path from `record.args`).
        if isinstance(record.args, tuple):
            record.args = tuple(self._masked(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: self._masked(arg) for key, arg in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        message = record.getMessage()
        masked = self.redact(message)
        if masked != message:  # a secret made of two pieces: keep only the masked text
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True

    def _masked(self, arg: object) -> object:
        """The argument, or its text masked when that text holds a secret."""
        if isinstance(arg, str):
            return self.redact(arg)
        if isinstance(arg, int | float | bool) or arg is None:
            return arg
        text = str(arg)
        masked = self.redact(text)
        return arg if masked == text else masked


# uvicorn configures these with handlers of their own (and `uvicorn.access` does not
# propagate to the root), so the root's filter never sees their lines: a secret in a request
# path or an error would be written as is.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def redact_logs(secrets: list[str], loggers: tuple[str, ...] = ("",)) -> None:
    """Mask `secrets` in everything the handlers of `loggers` (the root by default) write.
    Call it again after a library installs handlers of its own (uvicorn does, when its
    `Config` is built)."""
    log_filter = RedactingFilter(Redactor(secrets))
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            # Once per handler: a second `serve` in one process must not stack filters.
            handler.filters = [f for f in handler.filters if not isinstance(f, RedactingFilter)]
            handler.addFilter(log_filter)
