"""The Jinja2 templates of incidents: status updates and post-mortems, a team's own or the
shipped ones (`templates/`, found by bot/config/shipped.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config.shipped import templates_dir

DEFAULT_TEMPLATES = templates_dir()
DEFAULT_POSTMORTEM = DEFAULT_TEMPLATES / "postmortem.md.j2"


def template_path(config_dir: Path, configured: str | None, default_name: str) -> Path:
    """A team's own template (relative to the config file) or the shipped one."""
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else (config_dir / path).resolve()
    return DEFAULT_TEMPLATES / default_name


@lru_cache(maxsize=8)
def _environment(directory: str) -> Environment:
    # Markdown, not HTML: nothing to escape. StrictUndefined turns a typo in a team's own
    # template into an error at the first draft instead of a silently empty update.
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def load_template(path: Path) -> tuple[Environment, str]:
    """The Jinja2 environment of a template file and its name in it."""
    return _environment(str(path.parent)), path.name
