"""An extension point of a service: what other features add to it while the container
builds the object graph (the holds on a rollout's step, a rollback's listeners).

Features depend on the service they extend (a sign-off gate reads rollouts), so they cannot
all be passed to its constructor; they are added one by one in `bot/container.py` and the
container seals every extension point before `build` returns. From then on the point is
read-only: a test or an adapter that wants another hold or listener passes it to `build`,
so the whole object graph stays visible in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class SealedError(RuntimeError):
    """Something was added to an extension point after `build` returned."""


class Extensions(Generic[T]):
    """The features registered at one extension point, in the order they were added."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._items: tuple[T, ...] = ()
        self._sealed = False

    def add(self, item: T) -> None:
        """Register `item` after the ones already there; refused once sealed."""
        if self._sealed:
            raise SealedError(
                f"{self._what} are fixed once build() has returned: pass it to build() instead"
            )
        self._items = (*self._items, item)

    def seal(self) -> None:
        """Fix what is registered (the container's last step)."""
        self._sealed = True

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
