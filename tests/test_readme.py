"""The README is the user's manual: what it points at exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_path_the_readme_names_exists() -> None:
    named = set(re.findall(r"`((?:bot|tests|bench|config|templates)/[\w./-]*\w)`", README))
    assert len(named) > 20  # the module map and the sections name many
    # A team's own config is theirs to write; the README names it as the first choice.
    yours = {"config/rollbot.yaml"}
    missing = sorted(p for p in named - yours if "*" not in p and not (REPO / p).exists())
    assert missing == []


def test_the_readme_stands_on_its_own() -> None:
    # DESIGN.md is the planners' document, not in this repository: the README's own map of
    # the code is the one a reader gets.
    assert "DESIGN.md" not in README
