"""SQL: metrics read with a query against one of the config's databases.

The query is the plan author's (Appendix B of the reference plan: connection metrics over the
last hour, message throughput over the last minute). It runs in a read-only transaction with
a statement timeout (see bot/providers/databases.py) and must come down to one number: one
row of one column (no rows, or NULL, is *no data*). For a condition with `per:` it answers a
value per label instead: rows of two columns, the label column named by `per` and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from bot.providers.databases import Databases, DatabaseUnavailable, execute
from bot.providers.metrics.base import MetricsProviderError


class SqlMetricsProvider:
    """Answers SQL queries from one named database."""

    name = "sql"

    def __init__(self, databases: Databases, database: str, timeout: float = 5.0) -> None:
        self.databases = databases
        self.database = database
        self.timeout = timeout

    def _rows(
        self, expr: str, params: Mapping[str, Any] | None = None
    ) -> tuple[list[str], list[Sequence[Any]]]:
        try:
            with self.databases.transaction(self.database, self.timeout, read_only=True) as c:
                used = {k: v for k, v in (params or {}).items() if f":{k}" in expr}
                # As the plan author wrote it (no bind-parameter parsing of `:` or `%`), but
                # a baseline query gets its window's bounds as bound parameters, never text.
                result = c.execute(text(expr), used) if used else execute(c, expr)
                if not result.returns_rows:
                    raise MetricsProviderError("the query returns no rows; write a SELECT")
                return list(result.keys()), [tuple(row) for row in result.fetchmany(1001)]
        except DatabaseUnavailable as exc:
            raise MetricsProviderError(str(exc)) from None

    def query(self, expr: str) -> float | None:
        """The query's one value; None when it returns no row or NULL."""
        return self._one(*self._rows(expr))

    def query_at(self, expr: str, at: datetime, window: timedelta) -> float | None:
        """A baseline query's one value: `:baseline_start` and `:baseline_end` in it are
        bound to the window that ended at `at`."""
        bounds = {"baseline_start": at - window, "baseline_end": at}
        return self._one(*self._rows(expr, bounds))

    def _one(self, columns: list[str], rows: list[Sequence[Any]]) -> float | None:
        if len(columns) != 1:
            raise MetricsProviderError(
                f"the query returns {len(columns)} columns ({', '.join(columns)}); a condition "
                "compares one number: select one column (or give per: for labelled rows)"
            )
        if not rows:
            return None
        if len(rows) > 1:
            raise MetricsProviderError(
                f"the query returns {len(rows) if len(rows) <= 1000 else 'over 1000'} rows; a "
                "condition compares one number: aggregate it, or give per: for labelled rows"
            )
        return _number(rows[0][0], columns[0])

    def query_labelled(self, expr: str, label: str) -> dict[str, float | None]:
        """A value per row: the `label` column names it, the other column is the value."""
        columns, rows = self._rows(expr)
        if len(columns) != 2 or label not in columns:
            raise MetricsProviderError(
                f"a query with per: {label} returns two columns, {label} and the value "
                f"(it returns: {', '.join(columns)})"
            )
        at = columns.index(label)
        value_column = columns[1 - at]
        return {str(row[at]): _number(row[1 - at], value_column) for row in rows}


def _number(raw: Any, column: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise MetricsProviderError(f"column {column} is not a number: {str(raw)[:40]!r}")
    value = float(raw)
    return None if math.isnan(value) else value
