"""Status at a glance: scheduled digests (`DigestService`, the one door:
bot/services/digests/service.py) and the live dashboard's data (`Dashboard`).

`collect.py` builds a digest's data in a fixed number of statements, `schedule.py` finds due
slots and posts each once, `digest.py` is the data a chat renders, `ports.py` the chat port;
`dashboard.py` reads the dashboard's rollouts, sign-offs and incidents in a fixed number of
queries.
"""

from bot.services.digests.digest import Digest
from bot.services.digests.service import DigestService

__all__ = ["Digest", "DigestService"]
