"""Reading rollbot's own `/metrics` page in tests: one sample's value by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(page: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text page: (name, labels) -> value."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(page: str, name: str, **labels: str) -> float | None:
    """The value of sample `name{labels}` on the page, None when it is not there."""
    return samples(page).get((name, frozenset(labels.items())))


def names(page: str) -> set[str]:
    """The metric families on the page (their names without _total, _bucket, ...)."""
    return {family.name for family in text_string_to_metric_families(page)}
