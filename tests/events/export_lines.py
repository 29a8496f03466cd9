"""The insights exports' rows as the tests compare them: "metric,zone,key,value,status", the five columns every
export has had. Since 2026-12-07 each row also names its venue, period and zone (`COLUMNS`,
portal/operator/insights.py): tests/events/test_insights_export_columns.py checks those."""

from __future__ import annotations

import csv

FIVE = ("metric", "zone", "key", "value", "status")


def export_lines(text: str) -> list[str]:
    """The CSV's rows (below its "# key: text" lines and header), each as its five columns joined by commas."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if not line.startswith("#")]
    return [",".join(row[name] for name in FIVE) for row in csv.DictReader(lines)]


def five(rows: list[dict]) -> list[dict]:
    """A Parquet export's rows (`to_pylist`) with only those five columns."""
    return [{name: row[name] for name in FIVE} for row in rows]
