"""Permissions from the config applied to rollout commands (typed and buttons alike)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.commands.rollout import run_rollout
from bot.config.settings import ConfigError, Settings
from bot.container import Rollbot
from bot.domain.actor import Actor, Via
from tests.conftest import built, slack_text

ROLES = """
roles:
  release:
    name: Release Manager
    members: [URELEASE]
  ops_lead:
    name: Operations Lead
    members: [UOPS]
permissions:
  start: [release]
  advance: [release, ops_lead]
  set: [ops_lead]
"""


@pytest.fixture
def guarded(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[Rollbot]:
    with built(settings_factory(database_url, ROLES), clock) as bot:
        yield bot


def slack(user: str) -> Actor:
    return Actor(user, Via.SLACK)


def test_a_user_without_the_role_is_refused_and_nothing_changes(guarded: Rollbot) -> None:
    reply = run_rollout("start realtime-features", slack("UOTHER"), guarded.rollouts, "C1")
    assert reply.error
    assert "Starting a rollout needs the role Release Manager" in reply.text
    assert "<@URELEASE>" in slack_text(reply)
    assert guarded.rollouts.active() == []


def test_holders_of_the_allowed_roles_may_act(guarded: Rollbot) -> None:
    assert not run_rollout("start realtime-features", slack("URELEASE"), guarded.rollouts).error
    refused = run_rollout("set realtime-features 30", slack("URELEASE"), guarded.rollouts)
    assert refused.error and "Operations Lead" in refused.text
    assert guarded.rollouts.status("realtime-features").percentage == 0
    assert not run_rollout("advance realtime-features", slack("UOPS"), guarded.rollouts).error
    assert guarded.rollouts.status("realtime-features").step_number == 2


def test_pause_is_open_when_the_config_does_not_restrict_it(guarded: Rollbot) -> None:
    run_rollout("start realtime-features", slack("URELEASE"), guarded.rollouts)
    assert not run_rollout("pause realtime-features", slack("UANYONE"), guarded.rollouts).error


def test_permissions_naming_an_unknown_role_are_a_config_error(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_factory(f"sqlite:///{tmp_path}/x.db", "permissions:\n  advance: [cto]\n")
    text = str(caught.value)
    assert "unknown role 'cto'" in text and "permissions" in text
