"""`flags.provider` in config: validation with key paths and hints, the token variable that
`rollbot config check` insists on, and the provider the container builds from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config.settings import ConfigError, Settings, load_settings
from bot.container import build
from bot.providers.flags.builtin import BuiltinFlagProvider
from bot.providers.flags.http import HttpFlagProvider
from bot.providers.flags.unleash import UnleashFlagProvider
from tests.conftest import NO_GATES, PLANS_DIR
from tests.test_cli import run, write_config

UNLEASH = (
    "flags:\n  provider: unleash\n  unleash:\n    base_url: http://unleash.internal:4242/\n"
    "    token_env: UNLEASH_ADMIN_TOKEN\n    environment: production\n"
)
HTTP = (
    "flags:\n  provider: http\n  http:\n    base_url: https://flags.internal\n"
    "    token_env: FLAGS_API_TOKEN\n"
)


def settings(tmp_path: Path, flags_yaml: str, env: dict[str, str] | None = None) -> Settings:
    config = tmp_path / "rollbot.yaml"
    config.write_text(
        NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n" + flags_yaml, encoding="utf-8"
    )
    return load_settings(
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/r.db", **(env or {})}, config_path=config
    )


def problems(tmp_path: Path, flags_yaml: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings(tmp_path, flags_yaml, env)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("flags_yaml", "path", "words"),
    [
        ("flags:\n  provider: launchdarkly\n", "flags.provider",
         "available: builtin, http, unleash (hint: see the flags section"),
        ("flags:\n  provider: unleash\n", "flags",
         "flags.unleash is missing (hint: see the flags section"),
        ("flags:\n  provider: http\n", "flags", "flags.http is missing"),
        (UNLEASH.replace("    environment: production\n", ""), "flags.unleash.environment",
         "add this key"),
        (UNLEASH.replace("http://unleash.internal:4242/", "unleash.internal"),
         "flags.unleash.base_url", "not an http:// or https:// URL"),
        (HTTP.replace("FLAGS_API_TOKEN", "'s3cr3t token'"), "flags.http.token_env",
         "not an environment variable name"),
        (HTTP + "    attempts: 0\n", "flags.http.attempts", "use a larger number"),
        (HTTP + "    tokn: x\n", "flags.http.tokn", "remove it or check its spelling"),
    ],
)  # fmt: skip
def test_bad_flags_config_names_the_key_and_hints(
    tmp_path: Path, flags_yaml: str, path: str, words: str
) -> None:
    found = problems(tmp_path, flags_yaml, {"UNLEASH_ADMIN_TOKEN": "t", "FLAGS_API_TOKEN": "t"})
    assert len(found) == 1, found
    assert f": {path}: " in found[0] and words in found[0], found[0]
    assert "(hint: " in found[0]


def test_a_missing_token_variable_is_a_problem(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, UNLEASH, {})
    assert "flags.unleash.token_env" in found and "UNLEASH_ADMIN_TOKEN is not set" in found
    (found,) = problems(tmp_path, HTTP, {"FLAGS_API_TOKEN": ""})
    assert "flags.http.token_env" in found and "FLAGS_API_TOKEN" in found


def test_the_container_builds_the_configured_provider(tmp_path: Path) -> None:
    cases = [
        ("", BuiltinFlagProvider, {}),
        (HTTP, HttpFlagProvider, {"FLAGS_API_TOKEN": "secret-1"}),
        (UNLEASH, UnleashFlagProvider, {"UNLEASH_ADMIN_TOKEN": "secret-2"}),
    ]
    for flags_yaml, kind, env in cases:
        bot = build(settings(tmp_path, flags_yaml, env), ManualClock())
        try:
            assert isinstance(bot.flags, kind)
            assert bot.rollouts.flags is bot.flags
        finally:
            bot.db.dispose()
    bot = build(settings(tmp_path, UNLEASH, {"UNLEASH_ADMIN_TOKEN": "secret-2"}), ManualClock())
    try:
        assert isinstance(bot.flags, UnleashFlagProvider)
        assert (bot.flags.project, bot.flags.environment) == ("default", "production")
        assert bot.flags.remote.base_url == "http://unleash.internal:4242"
        assert bot.flags.remote.client.headers["authorization"] == "secret-2"
    finally:
        bot.db.dispose()


def test_config_check_reports_the_missing_token_variable(tmp_path: Path) -> None:
    config = write_config(tmp_path, NO_GATES + f"rollouts:\n  plans_dir: {PLANS_DIR}\n" + UNLEASH)
    result = run(["config", "check", "--config", str(config)], tmp_path)
    assert result.returncode == 1
    assert "flags.unleash.token_env" in result.stdout
    assert "UNLEASH_ADMIN_TOKEN is not set" in result.stdout
    ok = run(
        ["config", "check", "--config", str(config)],
        tmp_path,
        env={"UNLEASH_ADMIN_TOKEN": "abc-secret"},
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "abc-secret" not in ok.stdout + ok.stderr


def test_the_example_configs_commented_flag_providers_are_valid() -> None:
    import yaml

    from bot.config.flags import FlagsConfig

    example = (PLANS_DIR.parent / "rollbot.example.yaml").read_text(encoding="utf-8")
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in example.splitlines():
        if line.startswith("  #   provider: "):
            current = blocks.setdefault(line.split(": ", 1)[1].strip(), [])
        if current is not None and line.startswith("  #   "):
            current.append(line.removeprefix("  #   "))
        elif current is not None:
            current = None
    assert set(blocks) == {"http", "unleash"}
    for provider, lines in blocks.items():
        flags = FlagsConfig.model_validate(yaml.safe_load("\n".join(lines)))
        assert flags.provider == provider and flags.remote() is not None
