"""Build the status page providers, in the configured order, from settings."""

from __future__ import annotations

from bot.config.files import FileProblem
from bot.config.providers import (
    AtlassianStatusConfig,
    BuiltinStatusConfig,
    WebhookStatusConfig,
)
from bot.config.providers import env_problems as config_env_problems
from bot.config.settings import ConfigError, Settings
from bot.providers.statuspage.atlassian import AtlassianStatusPage
from bot.providers.statuspage.base import StatusPageProvider
from bot.providers.statuspage.builtin import BuiltinStatusPage
from bot.providers.statuspage.webhook import WebhookStatusPage
from bot.store.database import Database


def env_problems(settings: Settings) -> list[FileProblem]:
    """A problem for every secret environment variable the config names but is unset."""
    cfg = settings.config
    return config_env_problems(str(settings.config_path), cfg.statuspage, cfg.paging, settings.env)


def build_status_providers(settings: Settings, db: Database) -> list[StatusPageProvider]:
    """Primary first, then fallbacks. Raises ConfigError when a secret is missing."""
    problems = [p for p in env_problems(settings) if p.problem.path.startswith("statuspage.")]
    if problems:
        raise ConfigError(problems)
    env = settings.env
    providers: list[StatusPageProvider] = []
    for options in settings.config.statuspage.providers:
        if isinstance(options, BuiltinStatusConfig):
            providers.append(BuiltinStatusPage(db, options))
        elif isinstance(options, AtlassianStatusConfig):
            providers.append(
                AtlassianStatusPage(
                    db,
                    page_id=options.page_id,
                    api_key=env[options.api_key_env],
                    api_url=options.api_url,
                    components=options.components,
                    deliver_notifications=options.deliver_notifications,
                    timeout_seconds=options.timeout_seconds,
                )
            )
        elif isinstance(options, WebhookStatusConfig):
            url = options.url if options.url is not None else env[str(options.url_env)]
            providers.append(
                WebhookStatusPage(
                    url,
                    bearer_token=env[options.bearer_token_env]
                    if options.bearer_token_env
                    else None,
                    hmac_secret=env[options.hmac_secret_env] if options.hmac_secret_env else None,
                    timeout_seconds=options.timeout_seconds,
                )
            )
    return providers
