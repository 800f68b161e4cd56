"""Exposures: how often applications were shown a flag's variant, for /metrics."""

from __future__ import annotations

from prometheus_client import Counter


class FlagExposures:
    """The counter `rollbot_flag_exposures_total{flag,variant}`.

    Created unregistered, so each process (and each test's rollbot) owns its own: the web
    app registers `counter` in the registry it serves at /metrics.
    """

    def __init__(self) -> None:
        self.counter = Counter(
            "rollbot_flag_exposures",
            "Times applications were shown a flag, by variant (on/off without variants)",
            ["flag", "variant"],
            registry=None,
        )

    def count(self, flag: str, variant: str, times: int = 1) -> None:
        """Add `times` exposures of the flag's variant."""
        if times > 0:
            self.counter.labels(flag=flag, variant=variant).inc(times)

    def value(self, flag: str, variant: str) -> float:
        """The count so far (for tests and the shell)."""
        for metric in self.counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels == {
                    "flag": flag,
                    "variant": variant,
                }:
                    return float(sample.value)
        return 0.0
