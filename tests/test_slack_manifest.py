"""Validate the Slack app manifests against Slack's published manifest schema: one for
HTTP mode (config/slack-app-manifest.json, Slack calls rollbot's public URL) and one for
Socket Mode (config/slack-app-manifest.socket-mode.json, rollbot connects out to Slack).

The schema (tests/data/slack-manifest.schema.1.0.0.json, MIT, see the .LICENSE file
beside it) is Slack's own; a manifest that fails it is refused when pasted into
api.slack.com or pushed with ``apps.manifest.update``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator  # type: ignore[import-untyped]  # no types-jsonschema yet

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = ROOT / "config" / "slack-app-manifest.json"
SOCKET_MODE_PATH = ROOT / "config" / "slack-app-manifest.socket-mode.json"
MANIFESTS = {"http": MANIFEST_PATH, "socket-mode": SOCKET_MODE_PATH}
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "slack-manifest.schema.1.0.0.json"
REQUEST_URL = "https://rollbot.example.com/slack/events"
COMMANDS = {"/rollout", "/rollback", "/approve", "/incident", "/oncall"}


def load_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module", params=sorted(MANIFESTS))
def mode(request: pytest.FixtureRequest) -> str:
    """Which manifest: `http` or `socket-mode`."""
    return str(request.param)


@pytest.fixture(scope="module")
def manifest(mode: str) -> dict[str, Any]:
    """The app manifest under test."""
    return load_json(MANIFESTS[mode])


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    """A Draft 7 validator for Slack's v1 manifest schema."""
    schema = load_json(SCHEMA_PATH)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def test_manifest_matches_slack_schema(
    manifest: dict[str, Any], validator: Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_really_rejects_bad_manifests(
    manifest: dict[str, Any], validator: Draft7Validator
) -> None:
    # Guards against a vacuous pass (e.g. an empty or mis-copied schema file).
    broken = copy.deepcopy(manifest)
    broken["features"]["slash_commands"][0]["command"] = "rollout"  # no leading slash
    broken["display_information"]["name"] = "x" * 36
    broken["unexpected_top_level_key"] = True
    assert len(list(validator.iter_errors(broken))) == 3


def test_background_color_is_hex(manifest: dict[str, Any]) -> None:
    # The schema spells this constraint "regex", which JSON Schema ignores; check it here.
    color = manifest["display_information"]["background_color"]
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", color)


def test_every_slash_command_is_declared(manifest: dict[str, Any], mode: str) -> None:
    commands = manifest["features"]["slash_commands"]
    assert {c["command"] for c in commands} == COMMANDS
    assert len(commands) == len(COMMANDS)
    for command in commands:
        # Socket Mode: commands arrive over the socket, there is no URL to call.
        assert command.get("url") == (REQUEST_URL if mode == "http" else None)
        assert command["description"]
        assert command["usage_hint"]
    rollout = next(c for c in commands if c["command"] == "/rollout")
    assert "start <flag> [plan]" in rollout["usage_hint"]  # as the README and /rollout help


def test_http_mode_with_a_single_request_url() -> None:
    settings = load_json(MANIFEST_PATH)["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["interactivity"] == {"is_enabled": True, "request_url": REQUEST_URL}
    assert settings["event_subscriptions"]["request_url"] == REQUEST_URL
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "reaction_added",
        "member_joined_channel",
    }


def test_socket_mode_has_no_request_url() -> None:
    manifest = load_json(SOCKET_MODE_PATH)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"] == {"is_enabled": True}  # buttons and forms, over the socket
    assert "request_url" not in settings["event_subscriptions"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "reaction_added",
        "member_joined_channel",
    }
    assert "rollbot.example.com" not in json.dumps(manifest)  # nothing to replace


def test_the_two_manifests_differ_only_in_how_slack_reaches_rollbot() -> None:
    # Same name, commands, scopes and events: a team can switch modes without losing any.
    http = load_json(MANIFEST_PATH)
    for command in http["features"]["slash_commands"]:
        del command["url"]
    del http["settings"]["event_subscriptions"]["request_url"]
    del http["settings"]["interactivity"]["request_url"]
    http["settings"]["socket_mode_enabled"] = True
    assert http == load_json(SOCKET_MODE_PATH)


def test_bot_scopes_cover_what_the_bot_calls(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "chat:write",  # chat.postMessage / update / postEphemeral
        "commands",  # slash commands
        "im:write",  # conversations.open for DMs
        "channels:manage",  # conversations.create / invite (public incident channels)
        "groups:write",  # the same for private channels
        "channels:read",  # member_joined_channel events, conversations.info
        "channels:join",  # conversations.join
        "pins:write",  # pins.add
        "files:write",  # files.getUploadURLExternal / completeUploadExternal
        "users:read",  # users.info
        "users:read.email",  # users.lookupByEmail
        "usergroups:read",  # usergroups.users.list
        "reactions:read",  # reaction_added events
        "reactions:write",  # reactions.add
        "channels:history",  # conversations.history: the text of a :pushpin:-ed message
        "groups:history",  # the same in private incident channels
    }
    assert needed <= scopes, f"missing scopes: {sorted(needed - scopes)}"
    assert len(scopes) == len(manifest["oauth_config"]["scopes"]["bot"]), "duplicate scopes"
