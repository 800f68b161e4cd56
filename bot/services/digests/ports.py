"""How the digest service posts and shows digests, without knowing which chat is used."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.services.digests.digest import Digest

log = logging.getLogger(__name__)


class DigestChat(Protocol):
    """Posts a digest as a channel message (not in a thread). Raises when it could not be
    posted: the digest then waits in the outbox and is retried."""

    def post_digest(self, channel: str, digest: Digest) -> None:
        """Post `digest` in `channel` (several messages when it is long)."""
        ...


class NullDigestChat:
    """No chat: the digest is only logged."""

    def post_digest(self, channel: str, digest: Digest) -> None:
        """Log that the digest would have been posted."""
        log.info(
            "digest %s for %s: %d rollout(s), %d incident(s)",
            digest.name,
            channel,
            len(digest.rollouts),
            len(digest.incidents),
        )
