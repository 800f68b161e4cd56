"""Rendering a post-mortem draft from an incident and its timeline (Jinja2, Markdown).

Kept apart from the service so the benchmark (bench/postmortem.py) and teams checking their
own template can render without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.domain.incident import TimelineEvent, format_span, response_times
from bot.services.incidents.templates import load_template

SOURCE_DETECTION = {
    "manual": "Declared by hand by {who} with `/incident declare`.",
    "rollback": "Declared automatically by an automatic rollback{ref}.",
    "alertmanager": "Detected by a Prometheus Alertmanager alert{ref}.",
    "pagerduty": "Detected through a PagerDuty incident{ref}.",
}


@dataclass(frozen=True)
class PostmortemFacts:
    """What the template needs to know about the incident (no ORM objects in templates)."""

    key: str
    title: str
    severity: str
    impact: str
    components: list[str]
    commander: str | None
    declared_by: str
    declared_at: datetime
    resolved_at: datetime | None
    summary: str | None
    source: str
    source_ref: str | None = None
    channel_name: str | None = None
    rollout_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _cell(value: object) -> str:
    """Text safe inside one Markdown table cell: no pipes or line breaks breaking the row."""
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\r", " ")
        .replace("\n", "<br>")
    )


def _utc(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def detection_text(facts: PostmortemFacts, events: Sequence[TimelineEvent]) -> str:
    """How the incident was detected: its source, and the first alert on the timeline."""
    ref = f" (`{facts.source_ref}`)" if facts.source_ref else ""
    template = SOURCE_DETECTION.get(facts.source, "Declared from {source}{ref}.")
    text = template.format(who=facts.declared_by, ref=ref, source=facts.source)
    first_alert = next((e for e in events if e.kind.value in ("alert", "rollback")), None)
    if first_alert is not None:
        text += f" First signal at {_utc(first_alert.at)}: {first_alert.text}"
    return text + "\nTODO: could we have detected it sooner? How?"


def render_postmortem(
    template: Path,
    facts: PostmortemFacts,
    events: Sequence[TimelineEvent],
    due_at: datetime | None,
    now: datetime,
    name: Callable[[str], str] = lambda user_id: f"@{user_id}",
) -> str:
    """The post-mortem draft as Markdown; `name` writes a person (their name, from the
    chat; `@id` by default)."""
    env, template_name = load_template(template)
    env.filters.setdefault("cell", _cell)
    env.filters.setdefault("utc", _utc)
    times = response_times(facts.declared_at, events)
    end = facts.resolved_at or now
    facts = replace(
        facts,
        commander=name(facts.commander) if facts.commander else None,
        declared_by=name(facts.declared_by),
    )
    return env.get_template(template_name).render(
        incident=facts,
        timeline=[
            {
                "at": e.at,
                "kind": e.kind.value,
                "actor": name(e.actor),
                "text": e.message.named(name),
                "permalink": e.permalink,
            }
            for e in events
        ],
        times={
            "to_acknowledge": format_span(times.to_acknowledge),
            "to_first_status": format_span(times.to_first_status),
            "to_mitigate": format_span(times.to_mitigate),
            "to_resolve": format_span(times.to_resolve),
        },
        detection=detection_text(facts, events),
        duration=format_span(end - facts.declared_at),
        due_at=due_at,
        generated_at=now,
    )
