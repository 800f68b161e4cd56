"""What rollbot's Markdown documents share (the rollout report, the retrospective): the
Jinja environment their templates render in, and how they write a moment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def markdown_templates(templates: Path) -> Environment:
    """Templates of Markdown documents found in `templates`."""
    return Environment(
        loader=FileSystemLoader(str(templates)),
        undefined=StrictUndefined,  # a typo in the template fails loudly, not blank
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
    )


def document_date(moment: datetime | None) -> str:
    """A moment as documents write it, to the minute in UTC; "" for none."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
