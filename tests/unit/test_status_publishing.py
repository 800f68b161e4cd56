"""publish_with_fallback: bounded retries with backoff, then the next provider."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bot.providers.statuspage.base import StatusPageError, StatusUpdate, check_update
from bot.services.status_publishing import StatusPublishError, publish_with_fallback

UPDATE = StatusUpdate(
    "inc-1",
    "API errors",
    "investigating",
    "Looking.",
    "major",
    ["API"],
    datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
)


class Scripted:
    """A provider that fails with the scripted errors, then succeeds."""

    def __init__(self, name: str, failures: list[Exception], reference: str = "ref") -> None:
        self.name = name
        self.failures = list(failures)
        self.reference = reference
        self.calls = 0

    def publish(self, update: StatusUpdate) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return f"{self.reference}:{update.incident_key}"


def test_first_success_wins_without_sleeping() -> None:
    pauses: list[float] = []
    primary, fallback = Scripted("primary", []), Scripted("fallback", [])
    result = publish_with_fallback([primary, fallback], UPDATE, 3, 1.0, pauses.append)
    assert (result.provider, result.reference, result.errors) == ("primary", "ref:inc-1", [])
    assert (primary.calls, fallback.calls, pauses) == (1, 0, [])


def test_500_then_200_retries_the_same_provider_after_the_backoff() -> None:
    pauses: list[float] = []
    primary = Scripted("primary", [StatusPageError("primary: HTTP 500")])
    result = publish_with_fallback([primary], UPDATE, attempts=3, backoff=2.0, sleep=pauses.append)
    assert result.provider == "primary" and primary.calls == 2
    assert pauses == [2.0]
    assert result.errors == ["primary attempt 1/3: primary: HTTP 500"]


def test_primary_down_falls_back_after_bounded_retries_with_doubling_backoff() -> None:
    pauses: list[float] = []
    primary = Scripted("primary", [StatusPageError(f"primary: HTTP 50{i}") for i in range(9)])
    fallback = Scripted("fallback", [], reference="fb")
    result = publish_with_fallback(
        [primary, fallback], UPDATE, attempts=3, backoff=0.5, sleep=pauses.append
    )
    assert (result.provider, result.reference) == ("fallback", "fb:inc-1")
    assert primary.calls == 3 and fallback.calls == 1
    assert pauses == [0.5, 1.0]  # none between the last primary try and the fallback
    assert [e.split(":")[0] for e in result.errors] == [
        "primary attempt 1/3",
        "primary attempt 2/3",
        "primary attempt 3/3",
    ]


def test_all_down_raises_listing_every_failure_without_secrets() -> None:
    secret = "sk-live-123456"
    crashing = Scripted("crashy", [RuntimeError(f"token {secret} rejected")] * 2)
    down = Scripted("down", [StatusPageError("down: HTTP 503")] * 2)
    pauses: list[float] = []
    with pytest.raises(StatusPublishError) as raised:
        publish_with_fallback(
            [crashing, down], UPDATE, attempts=2, backoff=1.0, sleep=pauses.append
        )
    error = raised.value
    assert isinstance(error, StatusPageError)
    assert error.errors == [
        "crashy attempt 1/2: crashy: unexpected RuntimeError",
        "crashy attempt 2/2: crashy: unexpected RuntimeError",
        "down attempt 1/2: down: HTTP 503",
        "down attempt 2/2: down: HTTP 503",
    ]
    assert "crashy" in str(error) and "down: HTTP 503" in str(error)
    assert secret not in str(error)
    assert pauses == [1.0, 1.0]


def test_no_providers_is_an_error() -> None:
    with pytest.raises(StatusPublishError, match="no status page provider"):
        publish_with_fallback([], UPDATE)


def test_at_least_one_attempt_is_made() -> None:
    primary = Scripted("primary", [])
    assert publish_with_fallback([primary], UPDATE, attempts=0, sleep=lambda _: None).provider
    assert primary.calls == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": "fixed"}, "unknown status 'fixed'"),
        ({"impact": "huge"}, "unknown impact 'huge'"),
        ({"incident_key": ""}, "incident_key must be 1-200"),
        ({"incident_key": "k" * 201}, "incident_key must be 1-200"),
        ({"at": datetime(2026, 11, 29, 7, 0)}, "timezone-aware"),
    ],
)
def test_updates_no_page_could_show_are_refused(change: dict[str, object], error: str) -> None:
    bad = dataclasses.replace(UPDATE, **change)  # type: ignore[arg-type]
    with pytest.raises(StatusPageError, match=error):
        check_update(bad)
