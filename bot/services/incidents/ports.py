"""The outside systems incidents need, as small interfaces (re-exported from providers)."""

from __future__ import annotations

from bot.providers.paging.base import OnCall, PagedPerson, Pager, PagingError, PersonPage
from bot.providers.statuspage.base import StatusPageError, StatusPageProvider, StatusUpdate

__all__ = [
    "OnCall",
    "PagedPerson",
    "Pager",
    "PagingError",
    "PersonPage",
    "StatusPageError",
    "StatusPageProvider",
    "StatusUpdate",
]
