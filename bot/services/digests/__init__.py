"""Scheduled status digests: `DigestService` is the one door (bot/services/digests/service.py).

`collect.py` builds a digest's data in a fixed number of statements, `schedule.py` finds due
slots and posts each once, `digest.py` is the data a chat renders, `ports.py` the chat port.
"""

from bot.services.digests.digest import Digest
from bot.services.digests.service import DigestService

__all__ = ["Digest", "DigestService"]
