"""The `digests:` config section as `rollbot config check` reports it: key path, what is
wrong, a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import ConfigError, load_settings

PLANS = Path(__file__).resolve().parents[2] / "config" / "plans"


def _load(tmp_path: Path, digests: str) -> list[str]:
    config = tmp_path / "rollbot.yaml"
    config.write_text(f"rollouts:\n  plans_dir: {PLANS}\ndigests:\n{digests}", encoding="utf-8")
    try:
        load_settings(env={}, config_path=config)
    except ConfigError as exc:
        return [str(p.problem) for p in exc.problems]
    return []


def test_a_valid_digest_is_accepted(tmp_path: Path) -> None:
    ok = "  - {name: daily, channel: C1, cron: '0 9 * * MON-FRI', timezone: Europe/Berlin}\n"
    assert _load(tmp_path, ok) == []


@pytest.mark.parametrize(
    ("digest", "where", "said", "hint"),
    [
        ("cron: '0 9 * *'", "digests.0.cron", "has 4 field(s)", "five fields"),
        ("cron: '61 9 * * *'", "digests.0.cron", "higher than the maximum", "MON-FRI"),
        ("cron: 'every morning'", "digests.0.cron", "invalid cron expression", "five fields"),
        (
            "cron: '0 9 * * *', timezone: Europe/Berln",
            "digests.0.timezone",
            "unknown timezone 'Europe/Berln'",
            "did you mean 'Europe/Berlin'",
        ),
        (
            "cron: '0 9 * * *', timezone: Mars/Olympus",
            "digests.0.timezone",
            "unknown timezone",
            "IANA name",
        ),
        ("cron: '0 9 * * *', chanel: C1", "digests.0.chanel", "not a key here", ""),
    ],
)
def test_a_bad_digest_names_the_key_and_says_what_is_wrong(
    tmp_path: Path, digest: str, where: str, said: str, hint: str
) -> None:
    problems = _load(tmp_path, f"  - {{name: daily, channel: C1, {digest}}}\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{where}: ") and said in problems[0]
    assert "(hint: " in problems[0] and hint in problems[0]


def test_two_digests_with_one_name_are_refused(tmp_path: Path) -> None:
    problems = _load(
        tmp_path,
        "  - {name: daily, channel: C1, cron: '0 9 * * *'}\n"
        "  - {name: daily, channel: C2, cron: '0 17 * * *'}\n",
    )
    assert problems == [
        "digests.1.name: digest name 'daily' is used twice (also digests.0) "
        "(hint: give every digest its own name (`/rollout digest <name>` shows one))"
    ]
