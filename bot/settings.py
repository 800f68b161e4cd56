"""Configuration: the YAML file plus the environment, validated once at start.

Every problem is reported with the file, the key path and a hint, never as a traceback.
Secrets only ever come from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.domain.durations import parse_duration
from bot.domain.incident import SEVERITIES, Deadlines
from bot.domain.plan import PlanProblem
from bot.domain.roles import ACTIONS, Role, RoleDirectory
from bot.providers.config import PagingConfig, StatusPageConfig
from bot.services.plans import FileProblem, read_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_CANDIDATES = ("config/rollbot.yaml", "config/rollbot.example.yaml")


class SlackConfig(BaseModel):
    """Slack options that are not secrets."""

    model_config = ConfigDict(extra="forbid")

    rollout_channel: str | None = None


FLAG_PROVIDERS = ("builtin", "http", "unleash")


def _flags_error(message: str) -> PydanticCustomError:
    # Its own error type, so the hint points at the flags section, not at roles.
    return PydanticCustomError("flags", message)


class RemoteFlagsConfig(BaseModel):
    """What every remote flag provider needs: where it is, the token's env var, limits."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    token_env: str
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    attempts: int = Field(default=3, ge=1, le=10)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise _flags_error(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or value[0].isdigit():
            raise _flags_error(
                f"{value!r} is not an environment variable name (the token itself never "
                "goes in this file)"
            )
        return value


class HttpFlagsConfig(RemoteFlagsConfig):
    """A remote flag API shaped like rollbot's /flags: GET and POST {base_url}/flags/{key}."""


class UnleashFlagsConfig(RemoteFlagsConfig):
    """Unleash's Admin API: the project and environment whose strategy rollbot sets."""

    project: str = "default"
    environment: str
    segment_context: str = "segment"


class FlagsConfig(BaseModel):
    """Which flag provider sets percentages, and its settings."""

    model_config = ConfigDict(extra="forbid")

    provider: str = "builtin"
    http: HttpFlagsConfig | None = None
    unleash: UnleashFlagsConfig | None = None

    @field_validator("provider")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in FLAG_PROVIDERS:
            raise _flags_error(
                f"unknown flag provider {value!r}; available: {', '.join(FLAG_PROVIDERS)}"
            )
        return value

    @model_validator(mode="after")
    def _provider_configured(self) -> FlagsConfig:
        if self.provider != "builtin" and getattr(self, self.provider) is None:
            raise _flags_error(
                f"provider is {self.provider!r} but flags.{self.provider} is missing"
            )
        return self

    def remote(self) -> RemoteFlagsConfig | None:
        """The chosen remote provider's settings; None for builtin."""
        return {"http": self.http, "unleash": self.unleash}.get(self.provider)


class RolloutsConfig(BaseModel):
    """Rollout behaviour."""

    model_config = ConfigDict(extra="forbid")

    plans_dir: str = "plans"
    default_plan: str | None = None
    advance_guard: str = "30s"

    @field_validator("advance_guard")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class SchedulerConfig(BaseModel):
    """How often due work is looked for."""

    model_config = ConfigDict(extra="forbid")

    tick_seconds: int = Field(default=15, ge=1, le=3600)


class MetricsConfig(BaseModel):
    """Where trigger and criterion queries are answered, and how often they are asked.

    Secrets are named, not written: `token_env` and `headers_env` give the names of
    environment variables holding them.
    """

    model_config = ConfigDict(extra="forbid")

    provider: Literal["none", "prometheus", "http_json"] = "none"
    url: str | None = None
    token_env: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    timeout: str = "5s"
    evaluation_seconds: int = Field(default=15, ge=1, le=3600)

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _url_when_provider(self) -> MetricsConfig:
        if self.provider != "none" and not self.url:
            raise ValueError(f"metrics.url: the {self.provider} provider needs a url")
        return self

    def secret_names(self) -> list[str]:
        """The environment variables this config reads secrets from."""
        return [n for n in (self.token_env, *self.headers_env.values()) if n]


class RollbackConfig(BaseModel):
    """Rollback behaviour that is not part of a plan."""

    model_config = ConfigDict(extra="forbid")

    # Roles told loudly (mentioned in the thread) when a rollback fails, besides the owner.
    notify_roles: list[str] = Field(default_factory=list)
    # How much of a command's output is posted to Slack (the end of it).
    output_tail_chars: int = Field(default=1500, ge=100, le=2900)


class WebConfig(BaseModel):
    """The HTTP server."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)


class RoleConfig(BaseModel):
    """A named role and who holds it (Slack user ids and/or a Slack user group id)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    members: list[str] = Field(default_factory=list)
    usergroup: str | None = None
    backups: list[str] = Field(default_factory=list)


class SignoffConfig(BaseModel):
    """Sign-off gates and checklists: enforcement, reminders and escalation."""

    model_config = ConfigDict(extra="forbid")

    # Off until the roles hold real people: then gates in plans hold rollouts.
    enforce_gates: bool = True
    allow_multiple_roles: bool = False
    remind_after: str = "4h"
    remind_every: str = "1d"
    escalate_after: str | None = "2d"
    escalate_to: str = "backups"  # backups (DM the role's backups, else the channel) | channel
    group_cache: str = "5m"

    @field_validator("remind_after", "remind_every", "escalate_after", "group_cache")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("escalate_to")
    @classmethod
    def _target(cls, value: str) -> str:
        if value not in ("backups", "channel"):
            raise ValueError(f"escalate_to must be backups or channel, not {value!r}")
        return value


def _incidents_error(message: str) -> PydanticCustomError:
    # Its own error type, so the hint points at the incidents section.
    return PydanticCustomError("incidents", message)


class AlertmanagerConfig(BaseModel):
    """How Prometheus Alertmanager webhooks (`POST /webhooks/alertmanager`) are taken in."""

    model_config = ConfigDict(extra="forbid")

    # Name of the env var holding the bearer token Alertmanager sends; without it, the
    # route refuses every request (an open door would let anyone declare incidents).
    token_env: str = "ROLLBOT_ALERTMANAGER_TOKEN"
    severity_map: dict[str, str] = Field(
        default_factory=lambda: {
            "critical": "sev1",
            "error": "sev2",
            "warning": "sev3",
            "info": "sev4",
        }
    )
    default_severity: str = "sev3"

    @model_validator(mode="after")
    def _severities(self) -> AlertmanagerConfig:
        for value in [*self.severity_map.values(), self.default_severity]:
            if value not in SEVERITIES:
                raise _incidents_error(f"unknown severity {value!r}; severities: sev1 to sev4")
        return self


class IncidentsConfig(BaseModel):
    """Incident deadlines, channels, templates and reminders."""

    model_config = ConfigDict(extra="forbid")

    channel_prefix: str = Field(default="inc", pattern=r"^[a-z0-9][a-z0-9_-]{0,19}$")
    private_channels: bool = False
    status_update_deadline: str = "5m"
    auto_publish_after: str = "4m"
    update_interval: str = "30m"
    postmortem_due: str = "48h"
    postmortem_reminders: list[str] = Field(default_factory=lambda: ["24h", "44h"])
    # Retries of a failing status page: first wait, longest wait, and failed attempts on
    # one provider before trying the next.
    publish_retry_first: str = "5s"
    publish_retry_max: str = "30s"
    attempts_per_provider: int = Field(default=3, ge=1, le=20)
    # How often due incident work (publications, retries, nudges, reminders) is looked for;
    # short, because a status update has minutes, not hours.
    tick_seconds: int = Field(default=5, ge=1, le=60)
    # Jinja2 templates (paths relative to the config file); default: the shipped ones.
    status_template: str | None = None
    postmortem_template: str | None = None
    # Severities that page the on-call engineer (when paging is configured).
    page_severities: list[str] = Field(default_factory=lambda: list(SEVERITIES))
    # Who commands an incident rollbot declares itself when no on-call is known.
    fallback_commander: str | None = None
    # Slack user ids invited to every incident channel.
    invite: list[str] = Field(default_factory=list)
    # Channel id where every new incident is announced (besides where it was declared).
    announce_channel: str | None = None
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)

    @field_validator(
        "status_update_deadline",
        "auto_publish_after",
        "update_interval",
        "postmortem_due",
        "publish_retry_first",
        "publish_retry_max",
    )
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            parse_duration(value)
        except ValueError as exc:
            raise _incidents_error(str(exc)) from None
        return value

    @field_validator("postmortem_reminders")
    @classmethod
    def _durations(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                parse_duration(item)
            except ValueError as exc:
                raise _incidents_error(str(exc)) from None
        return value

    @field_validator("page_severities")
    @classmethod
    def _known_severities(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in SEVERITIES:
                raise _incidents_error(f"unknown severity {item!r}; severities: sev1 to sev4")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> IncidentsConfig:
        try:
            self.deadlines()
        except ValueError as exc:
            raise _incidents_error(str(exc)) from None
        return self

    def deadlines(self) -> Deadlines:
        """The deadlines as the domain sees them."""
        return Deadlines(
            status_update=parse_duration(self.status_update_deadline),
            auto_publish=parse_duration(self.auto_publish_after),
            update_interval=parse_duration(self.update_interval),
            postmortem=parse_duration(self.postmortem_due),
            postmortem_reminders=tuple(parse_duration(r) for r in self.postmortem_reminders),
        )


class ConfigFile(BaseModel):
    """The whole YAML config."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = None
    rollouts: RolloutsConfig = Field(default_factory=RolloutsConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    signoff: SignoffConfig = Field(default_factory=SignoffConfig)
    roles: dict[str, RoleConfig] = Field(default_factory=dict)
    permissions: dict[str, list[str]] = Field(default_factory=dict)
    statuspage: StatusPageConfig = Field(default_factory=StatusPageConfig)
    paging: PagingConfig = Field(default_factory=PagingConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    rollback: RollbackConfig = Field(default_factory=RollbackConfig)

    @model_validator(mode="after")
    def _rollback_roles_known(self) -> ConfigFile:
        for role_id in self.rollback.notify_roles:
            if role_id not in self.roles:
                known = ", ".join(sorted(self.roles)) or "none defined"
                raise ValueError(
                    f"rollback.notify_roles: unknown role {role_id!r} (roles: {known})"
                )
        return self

    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)

    @model_validator(mode="after")
    def _permissions_name_known_roles(self) -> ConfigFile:
        for action, role_ids in self.permissions.items():
            if action not in ACTIONS:
                raise ValueError(
                    f"permissions: unknown action {action!r}; actions: {', '.join(ACTIONS)}"
                )
            for role_id in role_ids:
                if role_id not in self.roles:
                    known = ", ".join(sorted(self.roles)) or "none defined"
                    raise ValueError(
                        f"permissions.{action}: unknown role {role_id!r} (roles: {known})"
                    )
        return self

    def role_directory(self) -> RoleDirectory:
        """The roles and permissions as the domain sees them."""
        return RoleDirectory(
            roles={
                rid: Role(rid, r.name, tuple(r.members), r.usergroup, tuple(r.backups))
                for rid, r in self.roles.items()
            },
            permissions={a: tuple(ids) for a, ids in self.permissions.items()},
        )


@dataclass
class Settings:
    """Validated config and environment together."""

    config_path: Path
    config: ConfigFile
    database_url: str
    plans_dir: Path
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    api_token: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def slack_http(self) -> bool:
        """True when Slack can be served over HTTP."""
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def slack_socket_mode(self) -> bool:
        """True when Socket Mode should be used."""
        return bool(self.slack_bot_token and self.slack_app_token)


class ConfigError(Exception):
    """The config is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[FileProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


_HINTS = {
    "extra_forbidden": "remove it or check its spelling (see config/rollbot.example.yaml)",
    "missing": "add this key",
    "int_parsing": "write a whole number",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "value_error": "see the roles and permissions sections of config/rollbot.example.yaml",
    "flags": "see the flags section of config/rollbot.example.yaml",
    "incidents": "see the incidents section of config/rollbot.example.yaml",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' and '_' (see the example)",
}


def find_config(env: dict[str, str]) -> Path:
    """ROLLBOT_CONFIG, else config/rollbot.yaml, else the shipped example config."""
    if env.get("ROLLBOT_CONFIG"):
        return Path(env["ROLLBOT_CONFIG"])
    for base in (Path.cwd(), REPO_ROOT):
        for candidate in DEFAULT_CONFIG_CANDIDATES:
            if (base / candidate).is_file():
                return base / candidate
    return REPO_ROOT / DEFAULT_CONFIG_CANDIDATES[1]


def load_settings(env: dict[str, str] | None = None, config_path: Path | None = None) -> Settings:
    """Read and validate the config and environment; raise ConfigError listing all problems."""
    env = dict(os.environ if env is None else env)
    path = config_path or find_config(env)
    data, syntax = read_yaml(path)
    where = str(path)
    if syntax:
        raise ConfigError([FileProblem(where, p) for p in syntax])
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(
            [FileProblem(where, PlanProblem("(top level)", "the config must be a mapping"))]
        )
    try:
        config = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [
                FileProblem(
                    where,
                    PlanProblem(
                        ".".join(str(p) for p in err["loc"]) or "(top level)",
                        err["msg"].removeprefix("Value error, "),
                        _HINTS.get(err["type"], ""),
                    ),
                )
                for err in exc.errors()
            ]
        ) from None
    problems: list[FileProblem] = []
    plans_dir = (path.parent / config.rollouts.plans_dir).resolve()
    if not plans_dir.is_dir():
        problems.append(
            FileProblem(
                where,
                PlanProblem(
                    "rollouts.plans_dir",
                    f"{plans_dir} is not a directory",
                    "point it at the folder holding plan YAML files (relative to the config file)",
                ),
            )
        )
    url = env.get("DATABASE_URL") or config.database_url or "sqlite:///rollbot.db"
    if not url.startswith(("sqlite", "postgres")):
        problems.append(
            FileProblem(
                "DATABASE_URL" if env.get("DATABASE_URL") else where,
                PlanProblem(
                    "database_url",
                    f"unsupported database {url.split(':')[0]!r}",
                    "use sqlite:///path.db or postgresql://...",
                ),
            )
        )
    remote = config.flags.remote()
    if remote is not None and not env.get(remote.token_env):
        problems.append(
            FileProblem(
                where,
                PlanProblem(
                    f"flags.{config.flags.provider}.token_env",
                    f"the environment variable {remote.token_env} is not set",
                    f"export {remote.token_env} with the {config.flags.provider} API token",
                ),
            )
        )
    for name in config.metrics.secret_names():
        if not env.get(name):
            problems.append(
                FileProblem(
                    where,
                    PlanProblem(
                        "metrics",
                        f"the environment variable {name} named here is not set",
                        "set it, or remove it from the metrics section",
                    ),
                )
            )
    api_url = env.get("SLACK_API_URL") or "https://slack.com/api/"
    if not api_url.endswith("/"):
        api_url += "/"  # WebClient joins method names onto it
    if problems:
        raise ConfigError(problems)
    return Settings(
        config_path=path,
        config=config,
        database_url=url,
        plans_dir=plans_dir,
        slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        slack_app_token=env.get("SLACK_APP_TOKEN") or None,
        slack_api_url=api_url,
        api_token=env.get("ROLLBOT_API_TOKEN") or None,
        env=env,
    )
