"""Configuration: the YAML file plus the environment, validated once at start.

Every problem is reported with the file, the key path and a hint, never as a traceback.
Secrets only ever come from the environment. The sections themselves are in bot/config/;
this module assembles them into the file and loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.config.contacts import ContactConfig, contact_book, unique_names
from bot.config.dashboard import DashboardConfig
from bot.config.databases import DatabaseConfig, database_urls
from bot.config.digests import DigestConfig, duplicate_names
from bot.config.files import FileProblem, read_yaml
from bot.config.flags import FlagsConfig
from bot.config.incidents import IncidentsConfig
from bot.config.metrics import MetricsConfig
from bot.config.providers import PagingConfig, StatusPageConfig
from bot.config.rollouts import RollbackConfig, RolloutsConfig
from bot.config.runtime import SchedulerConfig, SlackConfig, WebConfig
from bot.config.shipped import example_config, shipped_root
from bot.config.signoff import RoleConfig, SignoffConfig
from bot.domain.contacts import ContactBook
from bot.domain.plan import PlanProblem
from bot.domain.problems import describe
from bot.domain.roles import ACTIONS, Role, RoleDirectory
from bot.domain.secrets import OWN_SECRETS

DEFAULT_CONFIG_CANDIDATES = ("config/rollbot.yaml", "config/rollbot.example.yaml")


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
    # Databases by name, for `provider: sql` metrics and `kind: sql` runbook steps.
    databases: dict[str, DatabaseConfig] = Field(default_factory=dict)
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
    contacts: list[ContactConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _contacts_name_known_roles(self) -> ConfigFile:
        unique_names(self.contacts)
        for i, contact in enumerate(self.contacts):
            if contact.role is not None and contact.role not in self.roles:
                known = ", ".join(sorted(self.roles)) or "none defined"
                raise ValueError(
                    f"contacts[{i}].role: unknown role {contact.role!r} (roles: {known})"
                )
        return self

    def contact_book(self) -> ContactBook:
        """The emergency contacts as the domain sees them."""
        return contact_book(self.contacts)

    # Scheduled digests: name, channel, cron schedule and timezone of each.
    digests: list[DigestConfig] = Field(default_factory=list)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)

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

    @model_validator(mode="after")
    def _sql_database_known(self) -> ConfigFile:
        sql = self.metrics.sql
        if sql is not None and sql.database is not None and sql.database not in self.databases:
            known = ", ".join(sorted(self.databases)) or "none defined"
            raise ValueError(
                f"metrics.sql.database: unknown database {sql.database!r} (databases: {known})"
            )
        return self

    def database_names(self) -> set[str]:
        """Every database plans may name: `databases:` and `metrics.sql`'s own."""
        return set(database_urls(self.databases, self.metrics.sql))

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
    # Read-only token of applications' SDKs (OFREP, Unleash client API); never writes.
    client_token: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def secret_names(self) -> frozenset[str]:
        """Every environment variable holding a secret: rollbot's own (Slack, the API token,
        the database URL) and each one the config names in a `*_env` key."""
        return OWN_SECRETS | frozenset(_env_names(self.config))

    def secret_values(self) -> list[str]:
        """The values of those variables that are set."""
        return [v for k, v in self.env.items() if k in self.secret_names() and v]

    @property
    def slack_http(self) -> bool:
        """True when Slack can be served over HTTP."""
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def slack_socket_mode(self) -> bool:
        """True when Socket Mode should be used."""
        return bool(self.slack_bot_token and self.slack_app_token)


def _env_names(node: object) -> list[str]:
    """The values of every `*_env` field in a config model, however deep."""
    found: list[str] = []
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            if name.endswith("_env") and isinstance(value, str) and value:
                found.append(value)
            else:
                found.extend(_env_names(value))
    elif isinstance(node, list | tuple):
        for item in node:
            found.extend(_env_names(item))
    elif isinstance(node, dict):
        for item in node.values():
            found.extend(_env_names(item))
    return found


class ConfigError(Exception):
    """The config is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[FileProblem], plans_dir: Path | None = None) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        # Where the plans are, as far as the broken config says: so their own problems can
        # be listed in the same run.
        self.plans_dir = plans_dir


_HINTS = {
    "extra_forbidden": "remove it or check its spelling (see config/rollbot.example.yaml)",
    "missing": "add this key",
    "int_parsing": "write a whole number",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "value_error": "see the roles and permissions sections of config/rollbot.example.yaml",
    "flags": "see the flags section of config/rollbot.example.yaml",
    "incidents": "see the incidents section of config/rollbot.example.yaml",
    "contacts": "see the contacts section of config/rollbot.example.yaml",
    "dashboard": "see the dashboard section of config/rollbot.example.yaml",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' and '_' (see the example)",
}


def _hint(error: Any) -> str:
    """The hint of a validation error: its own (a section's custom error may carry one),
    else the one for its kind."""
    own = (error.get("ctx") or {}).get("hint")
    return str(own) if own else _HINTS.get(error["type"], "")


def find_config(env: dict[str, str]) -> Path:
    """ROLLBOT_CONFIG, else config/rollbot.yaml (in the working directory, then in the
    checkout rollbot runs from), else the shipped example config, which a wheel install
    carries too."""
    if env.get("ROLLBOT_CONFIG"):
        return Path(env["ROLLBOT_CONFIG"])
    for base in (Path.cwd(), shipped_root()):
        for candidate in DEFAULT_CONFIG_CANDIDATES:
            if (base / candidate).is_file():
                return base / candidate
    return example_config()


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the config model allows where the last part of `loc` was written."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or not isinstance(part, str) or part not in fields:
            return []
        annotation = fields[part].annotation
        # `X | None` and the like: the model among the union's members.
        members = getattr(annotation, "__args__", None) or (annotation,)
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if not models:
            return []
        current = models[0]
    return list(getattr(current, "model_fields", {}))


def _plans_dir_of(path: Path, data: dict[str, Any]) -> Path | None:
    """The plans folder a config that did not validate points at, if it can be told."""
    rollouts = data.get("rollouts")
    named = rollouts.get("plans_dir", "plans") if isinstance(rollouts, dict) else "plans"
    if not isinstance(named, str):
        return None
    folder = (path.parent / named).resolve()
    return folder if folder.is_dir() else None


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
                        describe(err, _keys_at(ConfigFile, err["loc"])),
                        _hint(err),
                    ),
                )
                for err in exc.errors()
            ],
            _plans_dir_of(path, data),
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
    for index, first in duplicate_names(config.digests):
        problems.append(
            FileProblem(
                where,
                PlanProblem(
                    f"digests.{index}.name",
                    f"digest name {config.digests[index].name!r} is used twice "
                    f"(also digests.{first})",
                    "give every digest its own name (`/rollout digest <name>` shows one)",
                ),
            )
        )
    auth = config.dashboard.auth
    basic = auth.basic if auth is not None else None
    for name in auth.env_names() if auth is not None else []:
        if not env.get(name):
            key = (
                "token_env"
                if basic is None
                else "basic.user_env"
                if name == basic.user_env
                else "basic.password_env"
            )
            problems.append(
                FileProblem(
                    where,
                    PlanProblem(
                        f"dashboard.auth.{key}",
                        f"the environment variable {name} named here is not set",
                        f"export {name} (the dashboard's login), or remove dashboard.auth "
                        "and bind rollbot to 127.0.0.1",
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
        client_token=env.get("ROLLBOT_CLIENT_TOKEN") or None,
        env=env,
    )
