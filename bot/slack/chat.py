"""Slack as rollbot's chat: one Web API client behind every chat port."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from slack_sdk import WebClient

from bot.services.chat import ChatPorts
from bot.services.telemetry import Telemetry
from bot.slack.digest_blocks import DigestRenderer, SlackDigestChat
from bot.slack.incident_chat import SlackIncidentChat
from bot.slack.notifier import SlackNotifier, build_client
from bot.slack.signoff_notifier import SlackGroupResolver, SlackSignoffNotifier


@dataclass(frozen=True)
class SlackChat:
    """The client the Bolt app shares, and the ports the services are built with."""

    client: WebClient
    ports: ChatPorts


def slack_chat(
    token: str,
    api_url: str,
    *,
    rollout_channel: str | None = None,
    group_cache_seconds: float = 300.0,
    templates_dir: Path | None = None,
    telemetry: Telemetry | None = None,
) -> SlackChat:
    """Cards and threads (in `rollout_channel`, else where `/rollout start` was typed),
    sign-off DMs, incident channels, and user groups resolved with `usergroups.users.list`
    (cached `group_cache_seconds`), digests in their channels (from the digest template in
    `templates_dir`); every Web API call counted in `telemetry`."""
    client = build_client(token, api_url, telemetry)
    digests = (
        SlackDigestChat(client, DigestRenderer(templates_dir))
        if templates_dir is not None
        else None
    )
    ports = ChatPorts(
        rollouts=SlackNotifier(client, rollout_channel),
        signoffs=SlackSignoffNotifier(client),
        incidents=SlackIncidentChat(client),
        groups=SlackGroupResolver(client, group_cache_seconds),
    )
    return SlackChat(client, replace(ports, digests=digests) if digests is not None else ports)
