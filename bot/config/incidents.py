"""The `incidents:` config section, with its Alertmanager intake."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.domain.durations import parse_duration
from bot.domain.incident import SEVERITIES, Deadlines


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
    # Phones and emails of `contacts:` on incident cards: shown only in private incident
    # channels unless this says public channels may see them too.
    contact_details_in_public_channels: bool = False
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
