"""Packages whose facades are imported on first use, so that a light command (`rollbot config
check`) that reads one small module of a package does not import the whole service and the
database with it."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` (PEP 562) for `package`: each name of `exports` is imported
    from its module (the value) when first asked for."""

    def __getattr__(name: str) -> object:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
