"""Plan YAML for tests, built from parameters: the header, phases and their steps, metric
conditions (triggers and criteria) and runbook steps, written the way config/plans/ writes
them (block style, two-space indents), so a test's plan says only what is its own."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence

FLAG = "chat-v2"


def quoted(text: str) -> str:
    """`text` as a double-quoted YAML scalar (for values with `: `, `#`, braces, ...)."""
    return json.dumps(text)


def _fields(indent: int, fields: dict[str, object]) -> str:
    """`fields` as YAML lines at `indent`, the first one opening a list item (`- `)."""
    pad = " " * indent
    lines = [f"{key}: {value}" for key, value in fields.items() if value is not None]
    return "".join(
        (f"{pad[:-2]}- " if i == 0 else pad) + line + "\n" for i, line in enumerate(lines)
    )


def step(name: str, percentage: int, bake: str | None = None, **more: object) -> str:
    """A phase's step: `name`, `percentage`, `bake`, then `more` (gate, segments, ...)."""
    return _fields(8, {"name": name, "percentage": percentage, "bake": bake, **more})


def phase(id: str, name: str, steps: Sequence[str], criteria: Sequence[str] = ()) -> str:
    """A phase with its `steps` (from `step`) and `criteria` (from `criterion`)."""
    text = f"  - id: {id}\n    name: {name}\n"
    if criteria:
        text += "    criteria:\n" + "".join(criteria)
    return text + "    steps:\n" + "".join(steps)


GA = phase("ga", "GA", [step("all", 100)])


def beta_and_ga(bake: str = "1h", criteria: Sequence[str] = ()) -> list[str]:
    """The usual two phases: Beta (5% then 25%, each baking `bake`) and GA (100%)."""
    beta = phase("beta", "Beta", [step("five", 5, bake), step("twentyfive", 25, bake)], criteria)
    return [beta, GA]


def _condition(
    indent: int, name: str, query: str, comparison: str, threshold: object, more: dict[str, object]
) -> str:
    fields: dict[str, object] = {"name": name, "description": more.pop("description", None)}
    fields |= {"query": query, "comparison": f'"{comparison}"', "threshold": threshold}
    return _fields(indent, fields | more)


def trigger(name: str, query: str, comparison: str, threshold: object, **more: object) -> str:
    """A plan trigger; `more` after the threshold (consecutive, missing_data, runbook, ...);
    a `description` goes right after the name."""
    return _condition(4, name, query, comparison, threshold, more)


def error_rate(query: str = "errors_ratio", consecutive: int = 2, **more: object) -> str:
    """The usual `error-rate` trigger: `query` above 1% `consecutive` times rolls back, a
    missing value is ignored; `more` as in `trigger`."""
    return trigger(
        "error-rate", query, ">", 0.01, consecutive=consecutive, missing_data="ignore", **more
    )


def criterion(name: str, query: str, comparison: str, threshold: object, **more: object) -> str:
    """A phase's criterion, written like `trigger`."""
    return _condition(8, name, query, comparison, threshold, more)


def runbook_step(name: str, kind: str, **more: object) -> str:
    """A runbook step (also of a named runbook's `steps`, at the runbook's indent)."""
    return _fields(4, {"name": name, "kind": kind, **more})


def command_step(name: str, run: str, timeout: str | None = "5s") -> str:
    """A runbook step running the shell command `run` (YAML, quoted where it needs to be)."""
    return runbook_step(name, "command", run=run, timeout=timeout)


DISABLE_THE_FLAG = runbook_step("Disable the flag", "flag", timeout="5s")


def named_runbook(name: str, description: str, steps: Sequence[str], partial: bool = True) -> str:
    """One of the plan's `runbooks:` (for `plan_yaml`'s `runbooks`), its steps from
    `runbook_step`; `description` as YAML (quoted where it needs to be)."""
    head = f"  {name}:\n    description: {description}\n"
    head += "    partial: true\n" if partial else ""
    return head + "    steps:\n" + textwrap.indent("".join(steps), "    ")


def plan_yaml(
    phases: Sequence[str] | None = None,
    *,
    flag: str = FLAG,
    name: str = FLAG,
    title: str = "Chat v2",
    triggers: Sequence[str] = (),
    runbook: Sequence[str] = (),
    runbooks: Sequence[str] = (),
    rest: str = "",
) -> str:
    """A plan's text: `phases` (default: `beta_and_ga()`), `triggers`, `runbook`, `runbooks`
    (from `named_runbook`), then `rest` (YAML of other top-level keys: gates, backup, ...)."""
    text = f"\nname: {name}\ntitle: {title}\nflag: {flag}\nphases:\n"
    text += "".join(beta_and_ga() if phases is None else phases)
    if triggers:
        text += "triggers:\n" + "".join(triggers)
    if runbook:
        text += "runbook:\n" + "".join(runbook)
    if runbooks:
        text += "runbooks:\n" + "".join(runbooks)
    return text + rest
