"""Packaging beyond what pyproject.toml can say: the templates and the shipped config.

They stay at the top of the repository (`templates/`, `config/`), where users, the README
and a checkout find them; a wheel carries them as package data under `bot/_shipped/`, which
bot/config/shipped.py looks in first. pyproject.toml's `[tool.setuptools]` table cannot map
folders outside `bot/` into it while the packages are discovered, hence this file.
"""

from setuptools import find_namespace_packages, setup

# Package in the wheel -> folder in the repository.
SHIPPED = {
    "bot._shipped.templates": "templates",
    "bot._shipped.config": "config",
}
NO_CACHE = ["__pycache__", "*.__pycache__"]


def folders_of(package: str, folder: str) -> list[str]:
    """The package and one per sub-folder of its folder (templates/digests/ ...), so that
    setuptools ships the files in sub-folders as data rather than warning about them."""
    subs = find_namespace_packages(where=folder, exclude=NO_CACHE)
    return [package, *(f"{package}.{sub}" for sub in subs)]


setup(
    packages=[
        # Namespace discovery: the Alembic migrations' folders have no __init__.py.
        *find_namespace_packages(include=["bot", "bot.*"], exclude=NO_CACHE),
        *(name for package, folder in SHIPPED.items() for name in folders_of(package, folder)),
    ],
    package_dir=SHIPPED,
    package_data={
        # Alembic's template for new revisions, beside the migrations.
        "bot.store.migrations": ["script.py.mako"],
        # Every template, whatever is added later (digests, the dashboard...).
        "bot._shipped.templates": ["**/*"],
        # The example config, the plans beside it and the Slack app manifests. A team's own
        # config/rollbot.yaml is deliberately left out of the wheel: it belongs on a volume.
        "bot._shipped.config": ["rollbot.example.yaml", "plans/*.yaml", "*.json"],
    },
    exclude_package_data={"": ["*.pyc"]},
)
