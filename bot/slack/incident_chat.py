"""Incidents in Slack: the channel, the pinned card edited in place, the draft DM, files.

Failures raise to the incident services, which log them and carry on: an incident never
waits for Slack, and the next change brings the card up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.services.events import Said
from bot.services.incidents.views import ChannelNameTaken, ChatMessage, DraftView, IncidentView
from bot.services.rollouts.notifier import CardLocation
from bot.slack.blocks import truncate
from bot.slack.incident_blocks import card_text, draft_blocks, incident_card
from bot.slack.mrkdwn import escape, mrkdwn
from bot.wording import words

log = logging.getLogger(__name__)

MAX_MESSAGE_TEXT = 4000


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "")) if exc.response is not None else ""


def _unless(error: str, call: Callable[[], SlackResponse]) -> SlackResponse | None:
    """The call's response; None when Slack answers `error` (nobody or nothing by that name)."""
    try:
        return call()
    except SlackApiError as exc:
        if _error(exc) == error:
            return None
        raise


class SlackIncidentChat:
    """An `IncidentChat` over the Slack Web API."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def create_channel(self, name: str, private: bool) -> str | None:
        """conversations.create; ChannelNameTaken when the name is in use."""
        try:
            response = self.client.conversations_create(name=name, is_private=private)
        except SlackApiError as exc:
            if _error(exc) == "name_taken":
                raise ChannelNameTaken(name) from exc
            raise
        return str(response["channel"]["id"])

    def invite(self, channel_id: str, user_ids: list[str]) -> None:
        """conversations.invite; people already there are fine."""
        try:
            self.client.conversations_invite(channel=channel_id, users=",".join(user_ids))
        except SlackApiError as exc:
            if _error(exc) not in ("already_in_channel", "cant_invite_self"):
                raise

    def show_card(self, view: IncidentView) -> CardLocation | None:
        """Post and pin the card the first time; chat.update it afterwards."""
        if view.channel_id is None:
            return None
        blocks, text = incident_card(view), card_text(view)
        if view.card_ts is not None:
            self.client.chat_update(
                channel=view.channel_id, ts=view.card_ts, text=text, blocks=blocks
            )
            return CardLocation(view.channel_id, view.card_ts)
        response = self.client.chat_postMessage(channel=view.channel_id, text=text, blocks=blocks)
        ts = str(response["ts"])
        try:
            self.client.pins_add(channel=view.channel_id, timestamp=ts)
        except SlackApiError as exc:
            if _error(exc) != "already_pinned":
                log.warning("could not pin the incident card: %s", _error(exc))
        return CardLocation(view.channel_id, ts)

    def post(self, channel_id: str | None, message: Said) -> None:
        """A message in the incident channel, in its words."""
        if channel_id:
            text = truncate(mrkdwn(words(message)), MAX_MESSAGE_TEXT)
            self.client.chat_postMessage(channel=channel_id, text=text)

    def _dm(self, user_id: str) -> str:
        response = self.client.conversations_open(users=user_id)
        return str(response["channel"]["id"])

    def direct(self, user_id: str, message: Said) -> None:
        """A direct message from rollbot, in its words."""
        self.client.chat_postMessage(
            channel=self._dm(user_id), text=truncate(mrkdwn(words(message)), MAX_MESSAGE_TEXT)
        )

    def show_draft(self, user_id: str, draft: DraftView) -> CardLocation | None:
        """DM the draft with Publish / Edit, or edit that DM in place."""
        blocks = draft_blocks(draft)
        text = truncate(f"Status update draft ({draft.status}): {escape(draft.message)}", 3000)
        if draft.dm_channel and draft.dm_ts:
            self.client.chat_update(
                channel=draft.dm_channel, ts=draft.dm_ts, text=text, blocks=blocks
            )
            return CardLocation(draft.dm_channel, draft.dm_ts)
        channel = self._dm(user_id)
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return CardLocation(str(response["channel"]), str(response["ts"]))

    def upload(self, channel_id: str | None, filename: str, content: str, title: str) -> str | None:
        """files_upload_v2: files.getUploadURLExternal, the upload, files.completeUploadExternal."""
        response = self.client.files_upload_v2(
            channel=channel_id,
            filename=filename,
            content=content,
            title=title,
            initial_comment=f":memo: {title}: the draft, generated from the timeline.",
        )
        file = response.get("file") or (response.get("files") or [{}])[0]
        return str(file.get("id")) if file.get("id") else None

    def user_by_email(self, email: str) -> str | None:
        """users.lookupByEmail; None when nobody has it."""
        response = _unless("users_not_found", lambda: self.client.users_lookupByEmail(email=email))
        return str(response["user"]["id"]) if response is not None else None

    def email_of(self, user_id: str) -> str | None:
        """users.info's profile email (the users:read.email scope); None when hidden."""
        email = self._user(user_id).get("profile", {}).get("email")
        return str(email) if email else None

    def display_name(self, user_id: str) -> str | None:
        """users.info's real name (else display name); None when Slack does not know them."""
        user = self._user(user_id)
        profile = user.get("profile") or {}
        name = user.get("real_name") or profile.get("real_name") or profile.get("display_name")
        return str(name) if name else None

    def _user(self, user_id: str) -> dict[str, Any]:
        """users.info's user; empty when Slack does not know them."""
        response = _unless("user_not_found", lambda: self.client.users_info(user=user_id))
        return (response.get("user") or {}) if response is not None else {}

    def message(self, channel_id: str, ts: str) -> ChatMessage | None:
        """The message at `ts` (conversations.history) and its permalink."""
        response = self.client.conversations_history(
            channel=channel_id, latest=ts, inclusive=True, limit=1
        )
        found = [m for m in response.get("messages") or [] if str(m.get("ts")) == ts]
        if not found:
            # A reply in a thread is not in the channel's history; conversations.replies
            # takes any message of a thread and answers the whole thread.
            thread = _unless(
                "thread_not_found",
                lambda: self.client.conversations_replies(channel=channel_id, ts=ts, limit=200),
            )
            if thread is None:
                return None
            found = [m for m in thread.get("messages") or [] if str(m.get("ts")) == ts]
        if not found:
            return None
        item = found[0]
        author = str(item.get("user") or item.get("username") or item.get("bot_id") or "someone")
        link = self.client.chat_getPermalink(channel=channel_id, message_ts=ts)
        return ChatMessage(
            text=str(item.get("text") or ""),
            author=author,
            at=datetime.fromtimestamp(float(ts), UTC),
            permalink=str(link.get("permalink")) if link.get("permalink") else None,
        )
