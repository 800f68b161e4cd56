"""Where the files rollbot ships are: the Jinja2 templates, the example config and the plans
beside it, the Slack app manifests.

They live at the top of the repository (`templates/`, `config/`), where users and the README
know them. A wheel carries them as package data in `bot/_shipped/` (setup.py maps the two
folders there), so an installed rollbot has no checkout to look in. Every caller asks
`shipped()`, which finds them either way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# A source checkout or an editable install: bot/config/shipped.py -> the repository root.
_CHECKOUT = Path(__file__).resolve().parents[2]
# Only a wheel install has this folder (setup.py's package_dir builds it).
_PACKAGED = "_shipped"

TEMPLATES = "templates"
EXAMPLE_CONFIG = "config/rollbot.example.yaml"


def shipped_root() -> Path:
    """The folder holding `templates/` and `config/`: the package data of an installed
    wheel, else the repository's root."""
    packaged = resources.files("bot") / _PACKAGED
    # rollbot is always installed unzipped (its templates are read by Jinja2's file
    # loader and its migrations by Alembic), so the package data is a real folder.
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return _CHECKOUT


def shipped(name: str) -> Path:
    """The path of a shipped file or folder, named as in the repository
    (`"templates"`, `"config/rollbot.example.yaml"`, `"config/plans"`)."""
    return shipped_root() / name


def templates_dir() -> Path:
    """The shipped Jinja2 templates."""
    return shipped(TEMPLATES)


def example_config() -> Path:
    """The shipped, annotated example config (its `plans_dir` is the shipped plans)."""
    return shipped(EXAMPLE_CONFIG)
