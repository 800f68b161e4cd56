"""What the tests of the SDK-facing flag endpoints share: a config with segments, and a
rollbot with a client token."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bot.config.settings import Settings

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
