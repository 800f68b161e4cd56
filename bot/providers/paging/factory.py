"""Build the pager from settings (None when PagerDuty is not configured)."""

from __future__ import annotations

from bot.config.providers import env_problems
from bot.config.settings import ConfigError, Settings
from bot.providers.paging.base import Pager
from bot.providers.paging.pagerduty import PagerDutyPager


def build_pager(settings: Settings) -> Pager | None:
    """The PagerDuty pager, or None: then the commander is whoever declared.

    Raises ConfigError when PagerDuty is configured but its token or routing key is unset
    (the webhook secret is only needed by the webhook route, which answers 503 without it).
    """
    pd = settings.config.paging.pagerduty
    if pd is None:
        return None
    needed = ("paging.pagerduty.routing_key_env", "paging.pagerduty.api_token_env")
    unset = env_problems(
        str(settings.config_path), settings.config.statuspage, settings.config.paging, settings.env
    )
    problems = [p for p in unset if p.problem.path in needed]
    if problems:
        raise ConfigError(problems)
    return PagerDutyPager(
        escalation_policy_id=pd.escalation_policy_id,
        routing_key=settings.env[pd.routing_key_env],
        api_token=settings.env[pd.api_token_env],
        from_email=pd.from_email,
        service_id=pd.service_id,
        api_url=pd.api_url,
        events_url=pd.events_url,
        timeout_seconds=pd.timeout_seconds,
    )
