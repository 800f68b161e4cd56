"""`/rollout digest [name]`: a digest now, privately."""

from __future__ import annotations

from collections.abc import Callable

from bot.commands.reply import Reply, echo
from bot.domain.actor import Actor
from bot.domain.errors import RollbotError
from bot.services.digests import DigestService
from bot.services.digests.digest import QUIET, Digest


def summary(digest: Digest) -> str:
    """A digest in one plain line (the fallback text of its reply)."""
    if digest.quiet:
        return f"Digest {digest.name}: {QUIET}"
    return (
        f"Digest {digest.name}: {len(digest.rollouts)} active rollout(s), "
        f"{len(digest.signoffs)} sign-off(s) waiting, {len(digest.incidents)} open "
        f"incident(s), {len(digest.postmortems)} post-mortem(s) due, "
        f"{len(digest.overdue_items)} checklist item(s) overdue."
    )


def digest_subcommand(digests: DigestService) -> Callable[[list[str], Actor], Reply]:
    """`/rollout digest [name]`: the named digest (else the first configured, else the
    default one) as of now, shown only to whoever asked."""

    def digest(args: list[str], actor: Actor) -> Reply:
        if len(args) > 1:
            raise RollbotError(
                f"`/rollout digest` takes at most one digest name, not `{echo(' '.join(args))}`.",
                "Example: `/rollout digest daily`.",
            )
        found = digests.show(args[0] if args else None)
        return Reply(summary(found), digest=found)

    return digest
