"""Incident settings: a team's own templates and deadlines from the config file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config.settings import ConfigError, Settings
from bot.container import build
from bot.domain.actor import Actor, Via
from bot.domain.incident import Severity
from bot.services.chat import ChatPorts
from tests.fakes.incidents import FakeStatusPage, RecordingChat

ALICE = Actor("U0ALICE", Via.SLACK)


def test_own_templates_and_deadlines(
    settings_factory: Callable[..., Settings], tmp_path: Path, clock: ManualClock
) -> None:
    (tmp_path / "pm.md.j2").write_text(
        "# {{ incident.title }} ({{ incident.severity }})\n"
        "{% for e in timeline %}- {{ e.kind }}\n{% endfor %}"
        "TTR {{ times.to_resolve }}\n",
        encoding="utf-8",
    )
    (tmp_path / "status.md.j2").write_text(
        "[{{ status }}] {{ title }} — next update in {{ next_update }}", encoding="utf-8"
    )
    settings = settings_factory(
        f"sqlite:///{tmp_path}/own.db",
        "incidents:\n"
        "  auto_publish_after: 2m\n"
        "  update_interval: 15m\n"
        f"  postmortem_template: {tmp_path / 'pm.md.j2'}\n"
        "  status_template: status.md.j2\n",  # relative to the config file
    )
    chat = RecordingChat()
    page = FakeStatusPage()  # the only status page
    bot = build(settings, clock, replace(ChatPorts.none(), incidents=chat), status_pages=[page])
    try:
        view = bot.incidents.declare(Severity.SEV3, "Slow search", ALICE).view
        clock.advance(timedelta(minutes=2))
        bot.incidents.run_due()
        [update] = page.published
        assert update.message == "[investigating] Slow search — next update in 15m"
        clock.advance(timedelta(minutes=10))
        bot.incidents.resolve(view.id, "", ALICE)
        [(_, _, markdown)] = chat.uploads
        assert markdown.startswith("# Slow search (sev3)\n- declared\n")
        assert "TTR 12m 0s" in markdown
    finally:
        bot.db.dispose()


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        ("incidents:\n  auto_publish_after: 6m\n", "auto_publish must come before"),
        ("incidents:\n  update_interval: soon\n", "is not a duration"),
        ("incidents:\n  page_severities: [sev7]\n", "unknown severity"),
        ("incidents:\n  channel_prefix: Incidents!\n", "incidents.channel_prefix"),
        ("incidents:\n  alertmanager:\n    default_severity: p1\n", "unknown severity"),
    ],
)
def test_bad_incident_config_is_reported(
    settings_factory: Callable[..., Settings], tmp_path: Path, yaml: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_factory(f"sqlite:///{tmp_path}/x.db", yaml)
    assert problem in str(caught.value)
