"""Config sections of the incident providers: `statuspage:` and `paging:`.

bot/config/settings.py adds them to the config file as two fields. Secrets are never in the
YAML: each section names the environment variables that hold them (`*_env` keys), and
`missing_env` lists those unset.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.config.files import FileProblem
from bot.domain.plan import PlanProblem

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXAMPLE = "see the statuspage and paging sections of config/rollbot.example.yaml"


def _problem(message: str, hint: str = _EXAMPLE) -> PydanticCustomError:
    """A validation error that carries its own hint (the settings loader prints it as is)."""
    return PydanticCustomError("provider_config", "{text}", {"text": f"{message} (hint: {hint})"})


def _env_name(value: str | None) -> str | None:
    """An environment variable's name; catches a secret pasted where its name belongs."""
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise _problem(
            "must be the NAME of an environment variable (letters, digits, '_')",
            "e.g. STATUSPAGE_API_KEY; the secret itself goes in the environment, never here",
        )
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise _problem(f"{value!r} is not an http(s) URL", "write https://host/path")
    return value


class _Provider(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class BuiltinStatusConfig(_Provider):
    """rollbot's own public status page at /status, /status.json and /status.atom."""

    type: Literal["builtin"]
    title: str = "Service status"
    # Shown as operational when no incident names them, so the page lists them all.
    components: list[str] = Field(default_factory=list)
    # Public base URL (e.g. https://status.example.com) for links in the feed; default:
    # the URL the request came in on.
    public_url: str | None = None
    recent_resolved: int = Field(default=10, ge=0, le=100)

    _url = field_validator("public_url")(_http_url)


class AtlassianStatusConfig(_Provider):
    """An Atlassian Statuspage page, through its REST API v1."""

    type: Literal["statuspage"]
    page_id: str = Field(min_length=1)
    api_key_env: str = "STATUSPAGE_API_KEY"
    api_url: str = "https://api.statuspage.io"
    # Component name (as incidents name them) -> Statuspage component id.
    components: dict[str, str] = Field(default_factory=dict)
    deliver_notifications: bool = True

    _env = field_validator("api_key_env")(_env_name)
    _url = field_validator("api_url")(_http_url)


class WebhookStatusConfig(_Provider):
    """POST each update as JSON to a URL."""

    type: Literal["webhook"]
    url: str | None = None
    # A URL that is itself a secret (it embeds a token) comes from the environment instead.
    url_env: str | None = None
    bearer_token_env: str | None = None
    hmac_secret_env: str | None = None

    _envs = field_validator("url_env", "bearer_token_env", "hmac_secret_env")(_env_name)
    _url = field_validator("url")(_http_url)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookStatusConfig:
        if (self.url is None) == (self.url_env is None):
            raise _problem(
                "give exactly one of url or url_env",
                "url_env names an environment variable holding a URL that embeds a token",
            )
        return self


StatusProviderConfig = Annotated[
    BuiltinStatusConfig | AtlassianStatusConfig | WebhookStatusConfig,
    Field(discriminator="type"),
]


def _builtin_only() -> list[StatusProviderConfig]:
    return [BuiltinStatusConfig(type="builtin")]


class StatusPageConfig(BaseModel):
    """Status page providers in order: the first is primary, the others are fallbacks."""

    model_config = ConfigDict(extra="forbid")

    # The builtin page alone unless configured otherwise: publishing always has somewhere
    # to go, so the five-minute deadline cannot be missed for want of a provider.
    providers: list[StatusProviderConfig] = Field(default_factory=_builtin_only, min_length=1)

    @model_validator(mode="after")
    def _one_builtin(self) -> StatusPageConfig:
        if sum(isinstance(p, BuiltinStatusConfig) for p in self.providers) > 1:
            raise _problem("providers: the builtin page is listed twice", "keep one")
        pages = [p.page_id for p in self.providers if isinstance(p, AtlassianStatusConfig)]
        if len(pages) != len(set(pages)):
            raise _problem("providers: the same Statuspage page_id is listed twice", "keep one")
        return self

    @property
    def builtin(self) -> BuiltinStatusConfig | None:
        """The builtin page's options, when it is one of the providers."""
        for provider in self.providers:
            if isinstance(provider, BuiltinStatusConfig):
                return provider
        return None


class PagerDutyConfig(BaseModel):
    """PagerDuty: REST API for who is on call, Events API v2 for paging, v3 webhooks in."""

    model_config = ConfigDict(extra="forbid")

    escalation_policy_id: str = Field(min_length=1)
    routing_key_env: str = "PAGERDUTY_ROUTING_KEY"
    api_token_env: str = "PAGERDUTY_API_TOKEN"
    webhook_secret_env: str | None = "PAGERDUTY_WEBHOOK_SECRET"
    # PagerDuty asks for the acting user's email (From header) on some REST calls.
    from_email: str | None = None
    # The service `/incident page <person or contact>` opens its PagerDuty incident on (an
    # incident assigned to that person); PagerDuty needs from_email for it too.
    service_id: str | None = Field(default=None, pattern=r"^P[A-Z0-9]{3,}$")
    # EU accounts: https://api.eu.pagerduty.com and https://events.eu.pagerduty.com
    api_url: str = "https://api.pagerduty.com"
    events_url: str = "https://events.pagerduty.com"
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)

    _envs = field_validator("routing_key_env", "api_token_env", "webhook_secret_env")(_env_name)

    @field_validator("api_url", "events_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise _problem(
                f"{value!r}: PagerDuty URLs must start with https://",
                "https://api.pagerduty.com / https://events.pagerduty.com, or the .eu. ones",
            )
        return value


class PagingConfig(BaseModel):
    """Who gets paged. Without `pagerduty`, the commander is whoever declared."""

    model_config = ConfigDict(extra="forbid")

    pagerduty: PagerDutyConfig | None = None


def missing_env(
    statuspage: StatusPageConfig, paging: PagingConfig, env: dict[str, str]
) -> list[tuple[str, str]]:
    """(config key path, variable name) of every secret variable named but unset or empty."""
    wanted: list[tuple[str, str | None]] = []
    for index, provider in enumerate(statuspage.providers):
        where = f"statuspage.providers.{index}"
        if isinstance(provider, AtlassianStatusConfig):
            wanted.append((f"{where}.api_key_env", provider.api_key_env))
        elif isinstance(provider, WebhookStatusConfig):
            wanted += [
                (f"{where}.url_env", provider.url_env),
                (f"{where}.bearer_token_env", provider.bearer_token_env),
                (f"{where}.hmac_secret_env", provider.hmac_secret_env),
            ]
    if (pd := paging.pagerduty) is not None:
        wanted += [
            ("paging.pagerduty.routing_key_env", pd.routing_key_env),
            ("paging.pagerduty.api_token_env", pd.api_token_env),
            ("paging.pagerduty.webhook_secret_env", pd.webhook_secret_env),
        ]
    return [(path, name) for path, name in wanted if name is not None and not env.get(name)]


def env_problems(
    where: str, statuspage: StatusPageConfig, paging: PagingConfig, env: dict[str, str]
) -> list[FileProblem]:
    """`missing_env` as problems of the config file `where`, with a hint each."""
    return [
        FileProblem(
            where,
            PlanProblem(
                path,
                f"environment variable {name} is not set",
                f"export {name} before starting rollbot (secrets never go in the config)",
            ),
        )
        for path, name in missing_env(statuspage, paging, env)
    ]
