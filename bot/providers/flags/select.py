"""Choose the flag provider named by `flags.provider` in config."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from bot.clock import Clock
from bot.config.settings import Settings
from bot.providers.flags.base import FlagProvider
from bot.providers.flags.builtin import BuiltinFlagProvider
from bot.providers.flags.http import HttpFlagProvider
from bot.providers.flags.unleash import UnleashFlagProvider
from bot.store.database import Database


def build_flag_provider(
    settings: Settings,
    db: Database,
    clock: Clock,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> FlagProvider:
    """The configured provider; remote ones get their token from the env var config names,
    and talk through `transport` (tests; the network by default), waiting `sleep` between
    retries.

    load_settings has already refused a config whose token variable is unset, so a missing
    token here means settings were built by hand; say so rather than send an empty token.
    """
    flags = settings.config.flags
    if flags.provider == "http" and flags.http is not None:
        cfg = flags.http
        return HttpFlagProvider(
            db,
            clock,
            cfg.base_url,
            _token(settings, cfg.token_env),
            cfg.token_env,
            timeout=cfg.timeout_seconds,
            attempts=cfg.attempts,
            transport=transport,
            sleep=sleep,
        )
    if flags.provider == "unleash" and flags.unleash is not None:
        ucfg = flags.unleash
        return UnleashFlagProvider(
            db,
            clock,
            ucfg.base_url,
            _token(settings, ucfg.token_env),
            ucfg.token_env,
            project=ucfg.project,
            environment=ucfg.environment,
            segment_context=ucfg.segment_context,
            segments=flags.segments,
            timeout=ucfg.timeout_seconds,
            attempts=ucfg.attempts,
            transport=transport,
            sleep=sleep,
        )
    return BuiltinFlagProvider(db, clock)


def _token(settings: Settings, name: str) -> str:
    token = settings.env.get(name)
    if not token:
        raise ValueError(f"the environment variable {name} (the flag API token) is not set")
    return token
