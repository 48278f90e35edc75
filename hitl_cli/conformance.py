"""`hitl conformance`: the report as a Rich table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hitl_conformance.report import AdapterReport

_STYLE = {"passed": "green", "failed": "red", "skipped": "yellow"}


def print_report(report: AdapterReport, console: Console) -> None:
    table = Table(title=f"hitl conformance: {report.factory}")
    for column in ("capability", "kind", "result", "passed", "failed", "skipped", "notes"):
        table.add_column(column, overflow="fold")
    for row in report.capabilities():
        table.add_row(
            row.capability.value,
            "MUST" if row.required else "MAY",
            f"[{_STYLE[row.status]}]{row.status}[/]",
            str(len(row.passed)),
            str(len(row.failed)),
            str(len(row.skipped)),
            "; ".join(row.failed + row.reasons),
        )
    console.print(table)
    for name in report.unmarked_failures():
        console.print(f"[red]FAILED[/] {name}")
    level = report.level()
    colour = {"FULL": "green", "BASE": "yellow", "NONE": "red"}[level]
    console.print(f"Conformance level: [bold {colour}]{level}[/]")
