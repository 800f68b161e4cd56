"""Prometheus Alertmanager's webhook payload (version 4), read into plain data.

Alertmanager posts one group of alerts per request: `status` is `firing` while any alert of
the group fires and `resolved` when all have ended; `groupKey` identifies the group across
requests, so repeated notifications about the same problem land on the same incident.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class AlertPayloadError(ValueError):
    """The body is not an Alertmanager webhook payload; the message says what is missing."""


@dataclass(frozen=True)
class Alert:
    """One alert of a group."""

    status: str
    name: str
    severity: str | None
    summary: str
    starts_at: str
    fingerprint: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertGroup:
    """One webhook notification: a group of alerts with a stable key."""

    group_key: str
    status: str
    alerts: list[Alert]
    title: str
    external_url: str | None

    @property
    def ref(self) -> str:
        """The group key, short enough to store (hashed when Alertmanager's is long)."""
        if len(self.group_key) <= 200:
            return self.group_key
        return "sha256:" + hashlib.sha256(self.group_key.encode()).hexdigest()


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def parse_alertmanager(payload: Any) -> AlertGroup:
    """Read a webhook body; AlertPayloadError when it is not one."""
    if not isinstance(payload, Mapping):
        raise AlertPayloadError("the body must be a JSON object")
    status = payload.get("status")
    if status not in ("firing", "resolved"):
        raise AlertPayloadError("`status` must be `firing` or `resolved`")
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list) or not raw_alerts:
        raise AlertPayloadError("`alerts` must be a non-empty list")
    group_key = payload.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise AlertPayloadError("`groupKey` is missing")
    common_labels = _strings(payload.get("commonLabels"))
    common_annotations = _strings(payload.get("commonAnnotations"))
    alerts: list[Alert] = []
    for index, raw in enumerate(raw_alerts):
        if not isinstance(raw, Mapping):
            raise AlertPayloadError(f"alerts[{index}] must be an object")
        labels = _strings(raw.get("labels"))
        annotations = _strings(raw.get("annotations"))
        name = labels.get("alertname") or common_labels.get("alertname") or "alert"
        alerts.append(
            Alert(
                status=str(raw.get("status") or status),
                name=name,
                severity=labels.get("severity") or common_labels.get("severity"),
                summary=annotations.get("summary") or annotations.get("description") or name,
                starts_at=str(raw.get("startsAt") or ""),
                fingerprint=str(raw.get("fingerprint") or f"{name}:{sorted(labels.items())}"),
                labels=labels,
            )
        )
    title = common_annotations.get("summary") or common_labels.get("alertname") or alerts[0].summary
    url = payload.get("externalURL")
    return AlertGroup(group_key, str(status), alerts, title, str(url) if url else None)


def severity_of(group: AlertGroup, mapping: Mapping[str, str], default: str) -> str:
    """The worst incident severity the group's alerts map to (`sev1` beats `sev3`)."""
    found = [mapping.get((a.severity or "").lower(), default) for a in group.alerts]
    return min(found or [default])
