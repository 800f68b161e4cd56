"""Property tests: whatever text a person types and whatever body reaches /slack/events,
rollbot answers (a reply, a refusal, a 4xx) and never crashes or leaks a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.approve import run_approve
from bot.commands.incident import run_incident
from bot.commands.rollback import run_rollback_direct
from bot.commands.rollout import run_rollout
from bot.domain.actor import Actor, Via
from tests.e2e.conftest import SIGNING_SECRET, Harness
from tests.fakes.slack_requests import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, signed_headers

ALICE = Actor("U_ALICE", Via.SLACK)
WORDS = st.sampled_from(
    [
        "start",
        "status",
        "list",
        "advance",
        "pause",
        "resume",
        "set",
        "report",
        "help",
        "declare",
        "update",
        "note",
        "page",
        "resolve",
        "timeline",
        "postmortem",
        "check",
        "checklist",
        "realtime-features",
        "sev1",
        "sev9",
        "--force",
        "--components",
        "100",
        "-1",
        "5.5",
        "²",
        "<!channel>",
        "<@U1|x>",
        "`",
        "*",
        "\u0000",
        "１",
        "a" * 300,
    ]
)
TEXT = st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=6).map(" ".join))
QUICK = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@QUICK
@given(text=TEXT)
def test_every_command_answers_whatever_is_typed(harness: Harness, text: str) -> None:
    bot = harness.rollbot
    assert bot.signoffs is not None
    replies = [
        run_rollout(text, ALICE, bot.rollouts, "C1", bot.rollout_subcommands),
        run_approve(text, ALICE, bot.signoffs),
        run_incident(text, ALICE, bot.incidents, "C1"),
        run_rollback_direct(text, ALICE, bot.rollback),
    ]
    assert all(r.text or getattr(r, "message", None) for r in replies)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
KINDS = st.sampled_from(["block_actions", "view_submission", "shortcut", "view_closed", 7, None])


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """Shapes near Slack's, with parts missing, mistyped or random."""
    payload: dict[str, Any] = {"type": draw(KINDS), "team": {"id": "T1"}}
    if draw(st.booleans()):
        payload["user"] = draw(st.one_of(st.just({"id": "U_ALICE"}), JSON_VALUES))
    if draw(st.booleans()):
        action = {
            "action_id": draw(
                st.sampled_from(
                    [
                        "rollout_advance",
                        "signoff_approve",
                        "signoff_reject",
                        "checklist_check",
                        "incident_ack",
                        "incident_publish_draft",
                        "rollback_rerun_step",
                        "nope",
                    ]
                )
            ),
            "value": draw(st.one_of(st.text(max_size=40), st.just('{"rollout": 1, "step": 0}'))),
            "action_ts": "1.2",
        }
        payload["actions"] = draw(st.one_of(st.just([action]), JSON_VALUES))
    if draw(st.booleans()):
        payload["view"] = draw(
            st.one_of(
                st.just(
                    {
                        "id": "V1",
                        "hash": "h",
                        "callback_id": "rollback_confirm",
                        "private_metadata": draw(st.text(max_size=30)),
                        "state": {"values": {}},
                    }
                ),
                JSON_VALUES,
            )
        )
    for key in ("channel", "container", "message", "enterprise"):
        if draw(st.booleans()):
            payload[key] = draw(st.one_of(st.none(), st.just({"id": "C1"}), JSON_VALUES))
    payload["trigger_id"] = draw(st.text(min_size=1, max_size=12))
    return payload


@QUICK
@given(payload=payloads(), cut=st.integers(min_value=0, max_value=400), form=st.booleans())
def test_no_payload_gets_a_5xx_or_a_traceback(
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
    payload: dict[str, Any],
    cut: int,
    form: bool,
) -> None:
    caplog.clear()
    caplog.set_level(logging.WARNING)
    raw = json.dumps(payload)
    raw = raw[:cut] if cut < len(raw) else raw  # sometimes cut short
    body = urlencode({"payload": raw}) if form else raw
    content_type = FORM_CONTENT_TYPE if form else JSON_CONTENT_TYPE
    response = harness.web.post(
        "/slack/events",
        content=body,
        headers=signed_headers(body, SIGNING_SECRET, content_type=content_type),
    )
    assert response.status_code < 500, response.text
    crashed = [
        r for r in caplog.records if r.exc_info and not r.name.startswith("bot.slack.listener")
    ]
    assert crashed == [], [r.getMessage() for r in crashed]
