"""People by name in files rollbot writes (post-mortems, retrospectives): a chat user id
becomes the name the chat knows them by, looked up once per file."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

log = logging.getLogger(__name__)

_CHAT_USER = re.compile(r"^[UW][A-Z0-9_]{2,}$")

NameLookup = Callable[[str], str | None]
"""A chat user's name (Slack `users.info`), or None when the chat does not know them."""


class People:
    """Writes people by name; anything that is not a chat user id is written as it is."""

    def __init__(self, lookup: NameLookup | None = None) -> None:
        self.lookup = lookup

    def namer(self) -> Callable[[str], str]:
        """A name function for one file: each person is looked up once, and a failing or
        unknown lookup leaves `@id` (the file is still written)."""
        cache: dict[str, str] = {}

        def name(user_id: str) -> str:
            if not _CHAT_USER.match(user_id):
                return user_id
            if user_id not in cache:
                found = None
                if self.lookup is not None:
                    try:
                        found = self.lookup(user_id)
                    except Exception as exc:
                        log.warning("could not look up the name of %s: %s", user_id, exc)
                cache[user_id] = found or f"@{user_id}"
            return cache[user_id]

        return name
