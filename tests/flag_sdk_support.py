"""What the tests of the SDK-facing flag endpoints share: a config with segments, a
rollbot with a client token, and its app serving one flag."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

from bot.clock import ManualClock
from bot.config.settings import Settings
from bot.container import Rollbot
from bot.web.app import create_app
from tests.conftest import built

CLIENT_TOKEN = "client-token"
WRITE = {"Authorization": "Bearer test-token"}
READ = {"Authorization": f"Bearer {CLIENT_TOKEN}"}

SEGMENTS_YAML = """flags:
  segments:
    internal:
      description: staff accounts
      constraints:
        - contextName: email
          operator: STR_ENDS_WITH
          values: ["@example.com"]
          caseInsensitive: true
    beta:
      constraints:
        - contextName: country
          operator: IN
          values: [CA, NZ]
        - contextName: appVersion
          operator: SEMVER_GTE
          value: 2.0.0
"""


def sdk_settings(
    settings_factory: Callable[..., Settings], url: str, client_token: str | None = CLIENT_TOKEN
) -> Settings:
    """Settings with the segments above and the client token set (or not)."""
    settings = settings_factory(url, SEGMENTS_YAML)
    env = dict(settings.env)
    if client_token is not None:
        env["ROLLBOT_CLIENT_TOKEN"] = client_token
    return dataclasses.replace(settings, client_token=client_token, env=env)


def sdk_rollbot(
    settings_factory: Callable[..., Settings], database_url: str, clock: ManualClock
) -> Iterator[Rollbot]:
    """Body of a `bot` fixture (`bot = pytest.fixture(sdk_rollbot)`): rollbot with
    `sdk_settings`, its database disposed after the test."""
    with built(sdk_settings(settings_factory, database_url), clock) as rollbot:
        yield rollbot


@contextmanager
def serving_flag(bot: Rollbot, flag: dict[str, Any]) -> Iterator[TestClient]:
    """A client of `bot`'s app with the flag `rt` stored as `flag`."""
    with TestClient(create_app(bot)) as client:
        assert client.post("/flags/rt", json=flag, headers=WRITE).status_code == 200
        yield client
