"""Digests in the terminal: templates/digest.md.j2 written as plain text, and the chat port
that prints a scheduled digest as a channel message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.commands.digest_render import DigestTemplate, Writer, plain_date
from bot.services.digests.digest import Digest
from bot.shell.text import SIGNS, text

WRITER = Writer(
    escape=lambda plain: plain,
    message=text,
    strong=lambda plain: plain,
    sign=lambda sign: f"{SIGNS[sign]} " if SIGNS[sign] else "",
    date=plain_date,
)


class DigestText:
    """A digest as terminal text: the header underlined, sections separated by a blank
    line, items indented."""

    def __init__(self, templates_dir: Path) -> None:
        self.template = DigestTemplate(templates_dir, WRITER)

    def render(self, digest: Digest) -> str:
        """The whole digest as lines of text."""
        lines: list[str] = []
        for part in self.template.parts(digest):
            if part.kind == "header":
                lines += [part.text, "=" * len(part.text)]
            elif part.kind == "section":
                lines += ["", part.text]
            elif part.kind == "more":
                lines.append(f"  {part.text}")
            elif part.text.strip():
                indent = "  " if lines and lines[-1] != "=" * len(lines[0]) else ""
                lines += [f"{indent}{line}" for line in part.text.splitlines()]
        return "\n".join(lines)


class ShellDigestChat:
    """A `DigestChat` printing digests as `[#channel] ...` messages."""

    def __init__(self, write: Callable[[str], None], templates_dir: Path) -> None:
        self.write = write
        self.renderer = DigestText(templates_dir)

    def post_digest(self, channel: str, digest: Digest) -> None:
        """Print the digest as a message in `channel`."""
        self.write(f"[#{channel}] {self.renderer.render(digest)}")
