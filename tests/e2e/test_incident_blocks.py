"""Incident Block Kit stays within Slack's limits, checked with slack_sdk's own models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.actions import Action
from bot.domain.incident import Deadlines, EventKind, TimelineEvent
from bot.services.incidents.views import DraftView, build_incident_view
from bot.slack.actions import action_id
from bot.slack.incident_blocks import (
    declare_modal,
    draft_blocks,
    edit_modal,
    incident_card,
    timeline_messages,
)
from bot.store.incident_models import IncidentRow
from tests.fakes.slack_api import validate_blocks, validate_view

T0 = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


def incident(**fields: object) -> IncidentRow:
    values: dict[str, object] = {
        "id": 3,
        "key": "inc-20261129-3-api",
        "title": "API errors " * 30,
        "severity": "sev1",
        "status": "investigating",
        "state": "active",
        "impact": "critical",
        "components": ["api"] * 300,
        "commander": "U0CAROL",
        "declared_by": "U0ALICE",
        "declared_at": T0,
        "channel_id": "C1",
        "card_ts": None,
    }
    values.update(fields)
    return IncidentRow(**values)


def test_card_is_valid_also_with_very_long_fields() -> None:
    view = build_incident_view(incident(), None, Deadlines(), T0)
    blocks = incident_card(view)
    assert validate_blocks(blocks) == []
    assert [Block.parse(b).to_dict() for b in blocks] == blocks  # type: ignore[union-attr]
    actions = next(b for b in blocks if b["type"] == "actions")
    resolve = next(e for e in actions["elements"] if e["action_id"] == action_id(Action.RESOLVE))
    assert "confirm" in resolve  # resolving from the card asks first
    closed = build_incident_view(
        incident(state="resolved", status="resolved", resolved_at=T0, summary="x" * 5000),
        None,
        Deadlines(),
        T0,
    )
    assert validate_blocks(incident_card(closed)) == []
    assert not any(b["type"] == "actions" for b in incident_card(closed))


def test_draft_dm_and_modals_are_valid() -> None:
    draft = DraftView(
        id=9,
        incident_id=3,
        incident_title="API",
        status="investigating",
        message="m" * 5000,
        impact="major",
        components=[],
        state="draft",
        auto_publish_at=T0,
        deadline_at=T0,
        dm_channel=None,
        dm_ts=None,
        published_at=None,
        provider_used=None,
    )
    assert validate_blocks(draft_blocks(draft)) == []
    for view in (declare_modal("C1"), edit_modal(draft)):
        assert validate_view(view) == []
        View(**view).to_dict()  # slack_sdk validates lengths


def test_long_timelines_are_split_within_limits() -> None:
    events = [
        TimelineEvent(T0 + timedelta(seconds=i), EventKind.NOTE, f"note {i} " + "x" * (i % 400))
        for i in range(10_000)
    ]
    messages = timeline_messages("Timeline of API errors", events)
    assert 1 < len(messages) <= 5
    shown = 0
    for blocks in messages:
        assert len(blocks) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
        assert sum(len(b["text"]["text"]) for b in blocks) <= 40_000
        assert validate_blocks(blocks) == []
        shown += sum(b["text"]["text"].count("*note*") for b in blocks[1:])
    head = messages[0][0]["text"]["text"]
    assert f"{10_000 - shown} older entries left out" in head
    assert "note 9999" in messages[-1][-1]["text"]["text"]  # the newest entries are kept
    assert "note 0 " not in json.dumps(messages)


def test_short_and_empty_timelines_are_one_message() -> None:
    one = timeline_messages("T", [TimelineEvent(T0, EventKind.DECLARED, "declared")])
    assert len(one) == 1 and len(one[0]) == 2
    assert one[0][0]["text"]["text"] == "*T*"
    assert "Nothing on the timeline" in timeline_messages("T", [])[0][0]["text"]["text"]
