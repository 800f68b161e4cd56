"""Sign-off messages in Slack: asks by direct message (conversations.open + postMessage),
edited in place when they close, and the user-group lookups behind role membership."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services.events import Said
from bot.services.signoff.ports import Ask, MessageRef
from bot.slack.blocks import chat_text, truncate
from bot.slack.signoff_blocks import ask_blocks, ask_text, closed_blocks

log = logging.getLogger(__name__)

MAX_MESSAGE_TEXT = 4000


class SlackSignoffNotifier:
    """A `SignoffNotifier` using the Slack Web API; failures raise (the caller retries)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _dm(self, user_id: str) -> str:
        response = self.client.conversations_open(users=user_id)
        return str(response["channel"]["id"])

    def ask(self, user_id: str, ask: Ask) -> MessageRef | None:
        """DM the ask with Approve / Reject."""
        channel = self._dm(user_id)
        response = self.client.chat_postMessage(
            channel=channel, text=ask_text(ask), blocks=ask_blocks(ask)
        )
        return {"channel": str(response["channel"]), "ts": str(response["ts"])}

    def close(self, ref: MessageRef, message: Said) -> None:
        """Replace the ask's buttons with what happened."""
        text = chat_text(message)
        self.client.chat_update(
            channel=ref["channel"],
            ts=ref["ts"],
            text=truncate(text, MAX_MESSAGE_TEXT),
            blocks=closed_blocks(text),
        )

    def tell(self, user_id: str, message: Said) -> None:
        """DM one person."""
        self.client.chat_postMessage(
            channel=self._dm(user_id), text=truncate(chat_text(message), MAX_MESSAGE_TEXT)
        )


class SlackGroupResolver:
    """Members of a Slack user group (`usergroups.users.list`), cached for `ttl_s` seconds
    so a burst of clicks makes one call; on an API error the last known members are used."""

    def __init__(
        self,
        client: WebClient,
        ttl_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, group_id: str) -> list[str]:
        """The user ids in `group_id`."""
        now = self.monotonic()
        with self._lock:
            cached = self._cache.get(group_id)
        if cached is not None and now - cached[0] < self.ttl_s:
            return list(cached[1])
        try:
            response = self.client.usergroups_users_list(usergroup=group_id)
            raw: list[object] = list(response.get("users") or [])
            users = [str(u) for u in raw]
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s failed: %s", group_id, exc)
            return list(cached[1]) if cached else []
        with self._lock:
            self._cache[group_id] = (now, users)
        return users
