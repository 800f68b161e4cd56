"""Digests in Slack: templates/digest.md.j2 written in mrkdwn, as Block Kit messages within
Slack's limits (50 blocks a message, 3,000 characters a section), and the chat port that
posts them in a channel.

Each section shows a bounded number of items and counts the rest, so even a digest of
hundreds of rollouts is a few messages; they are packed into as many messages as needed,
never one that Slack would reject.
"""

from __future__ import annotations

from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.models import blocks as block_kit

from bot.commands.digest import summary
from bot.commands.digest_render import DigestTemplate, Writer
from bot.domain.message import Message, Strong
from bot.services.digests.digest import Digest
from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_CONTEXT_TEXT,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    Blocks,
    slack_date,
    truncate,
)
from bot.slack.mrkdwn import SIGNS, escape, mrkdwn

WRITER = Writer(
    escape=escape,
    message=mrkdwn,
    strong=lambda text: mrkdwn(Message(Strong(text))),
    sign=lambda sign: SIGNS[sign] + " ",
    # Slack shows each reader the date in their own timezone (UTC in the fallback).
    date=lambda when, _tz: slack_date(when),
)


def _section(text: str) -> block_kit.SectionBlock:
    return block_kit.SectionBlock(
        text=block_kit.MarkdownTextObject(text=truncate(text, MAX_SECTION_TEXT))
    )


def _context(text: str) -> block_kit.ContextBlock:
    return block_kit.ContextBlock(elements=[block_kit.MarkdownTextObject(text=text)])


class DigestRenderer:
    """Turns a digest into Slack messages (each a list of blocks)."""

    def __init__(self, templates_dir: Path) -> None:
        self.template = DigestTemplate(templates_dir, WRITER)

    def blocks(self, digest: Digest) -> list[block_kit.Block]:
        """Every block of the digest, in order (more than fit one message, perhaps)."""
        out: list[block_kit.Block] = []
        for part in self.template.parts(digest):
            if part.kind == "header":
                text = block_kit.PlainTextObject(text=truncate(part.text, MAX_HEADER_TEXT))
                out.append(block_kit.HeaderBlock(text=text))
            elif part.kind == "section":
                out.append(block_kit.DividerBlock())
                out.append(_section(part.text))
            elif part.kind == "more":
                out.append(_context(truncate(part.text, MAX_CONTEXT_TEXT)))
            elif part.text.strip():
                out.append(_section(part.text))
        return out

    def messages(self, digest: Digest) -> list[Blocks]:
        """The digest as messages of at most 50 blocks; each after the first says it
        continues the digest."""
        blocks = self.blocks(digest)
        room = MAX_BLOCKS - 1  # a continued message starts with one context block
        first, rest = blocks[:MAX_BLOCKS], blocks[MAX_BLOCKS:]
        pages: list[list[block_kit.Block]] = [first]
        while rest:
            pages.append(rest[:room])
            rest = rest[room:]
        out: list[Blocks] = []
        for index, page in enumerate(pages):
            if index:
                note = f"Status digest {escape(digest.name)}, continued ({index + 1}/{len(pages)})"
                page = [_context(note), *page]
            out.append([b.to_dict() for b in page])
        return out

    def fallback(self, digest: Digest) -> str:
        """The plain text of a digest message (notifications, screen readers)."""
        return truncate(escape(summary(digest)), MAX_FALLBACK_TEXT)


class SlackDigestChat:
    """A `DigestChat` posting digests with the Slack Web API (a channel message each, not
    in a thread). A failure raises: the digest waits in the outbox and is retried."""

    def __init__(self, client: WebClient, renderer: DigestRenderer) -> None:
        self.client = client
        self.renderer = renderer

    def post_digest(self, channel: str, digest: Digest) -> None:
        """Post the digest's messages in `channel`, in order."""
        text = self.renderer.fallback(digest)
        for blocks in self.renderer.messages(digest):
            self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
