"""How requests and audit trails look to a person: Rich tables, views and argument diffs.

Everything a request carries came from an agent or a reviewer, so it is rendered as
`Text`, never parsed as Rich markup: ``[bold]`` in an argument stays ``[bold]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hitl_cli.edits import args_diff, format_value
from hitl_core import ApprovalRequest, AuditEvent, Edit, Respond

__all__ = ["audit_table", "request_view", "requests_table", "short_args", "since"]

SHORT_ARGS = 48
"""How many characters of arguments a table row shows before an ellipsis."""


SHORT_NOTE = 60
"""How many characters of feedback or detail an audit row shows (``--json`` has all)."""


def short_args(args: Mapping[str, Any], width: int = SHORT_ARGS) -> str:
    """``amount=4200, recipient="Acme Corp"``, cut to `width` characters."""
    return _cut(", ".join(f"{key}={format_value(value)}" for key, value in args.items()), width)


def _cut(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def since(moment: datetime, now: datetime) -> str:
    """A coarse distance in time: ``3m ago`` or ``in 2h``."""
    delta = now - moment
    words = _duration(abs(delta))
    return f"{words} ago" if delta >= timedelta(0) else f"in {words}"


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _deadline(request: ApprovalRequest, now: datetime) -> str:
    if request.expires_at is None:
        return "never"
    if request.is_pending and request.expires_at <= now:
        return f"overdue ({since(request.expires_at, now)})"
    return since(request.expires_at, now)


NARROW = 120
"""Below this many columns the list is printed as lines per request, not a table."""


def requests_table(
    requests: Iterable[ApprovalRequest],
    now: datetime,
    *,
    show_run: bool = True,
    show_status: bool = False,
    width: int | None = None,
) -> RenderableType:
    """One row per request: what it asks, why, for whom, and how long it has waited.

    The run and status columns can be left out when a filter makes them all the same. On
    a terminal narrower than `NARROW` a table would fold every column to a few letters,
    so each request gets three plain lines instead.
    """
    requests = list(requests)
    if width is not None and width < NARROW:
        return _requests_lines(requests, now, show_status=show_status)
    table = Table(title="Approval requests", title_justify="left")
    table.add_column("id", no_wrap=True)  # the one thing a reviewer copies
    optional = {"run": show_run, "status": show_status}
    for column in ("tool", "args", "reason", "run", "requester", "status", "age", "expires"):
        if optional.get(column, True):
            table.add_column(column, overflow="fold")
    for request in requests:
        cells = [
            Text(request.id),
            Text(request.action.tool),
            Text(short_args(request.action.args)),
            Text(request.reason),
            *([Text(request.run_id)] if show_run else []),
            Text(request.requested_by or "-"),
            *([Text(request.status.value)] if show_status else []),
            Text(_duration(now - request.created_at)),
            Text(_deadline(request, now)),
        ]
        table.add_row(*cells)
    return table


def _requests_lines(
    requests: list[ApprovalRequest], now: datetime, *, show_status: bool
) -> RenderableType:
    """The narrow-terminal list: id, tool, status, age; arguments and reason; deadline, who."""
    lines: list[RenderableType] = [Text("Approval requests", style="italic")]
    for request in requests:
        head = Text(request.id, style="bold")
        head.append(f"  {request.action.tool}")
        if show_status:
            head.append(f"  {request.status.value}")
        head.append(f"  {_duration(now - request.created_at)} ago")
        lines.append(head)
        lines.append(Text(f"    {short_args(request.action.args)} -- {request.reason}"))
        when = f"    expires {_deadline(request, now)}"
        who = f", requested by {request.requested_by}" if request.requested_by else ""
        lines.append(Text(when + who, style="dim"))
    return Group(*lines)


def _pretty(value: Any) -> Text:
    return Text(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def request_view(request: ApprovalRequest, now: datetime) -> RenderableType:
    """Everything a reviewer needs before deciding, and the decision once there is one."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rows: list[tuple[str, Text]] = [
        ("request", Text(request.id)),
        ("run", Text(f"{request.run_id} ({request.adapter})")),
        ("status", Text(request.status.value)),
        ("tool", Text(request.action.tool)),
        ("arguments", _pretty(request.action.args)),
        ("reason", Text(request.reason)),
        ("requested by", Text(request.requested_by or "-")),
        ("context", _pretty(request.context) if request.context else Text("-")),
        ("allowed", Text(", ".join(request.allowed))),
        ("created", Text(f"{request.created_at.isoformat()} ({since(request.created_at, now)})")),
        ("deadline", Text(_deadline_line(request, now))),
    ]
    for label, value in rows:
        facts.add_row(label, value)
    parts: list[RenderableType] = [facts]
    if request.decision is not None:
        parts.append(_decision_view(request))
    return Group(*parts)


def _deadline_line(request: ApprovalRequest, now: datetime) -> str:
    if request.expires_at is None:
        return "none"
    return f"{request.expires_at.isoformat()} - {_deadline(request, now)}"


def _decision_view(request: ApprovalRequest) -> RenderableType:
    decision = request.decision
    assert decision is not None
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("decision", Text(decision.outcome))
    table.add_row("by", Text(decision.by))
    table.add_row("at", Text(decision.at.isoformat()))
    table.add_row("feedback", Text(decision.feedback or "-"))
    if isinstance(decision, Respond):
        table.add_row("answer", Text(decision.answer))
    if isinstance(decision, Edit):
        changes = args_diff(request.action.args, decision.args)
        table.add_row("changes", Text("\n".join(map(str, changes)) or "(none)"))
        table.add_row("edited arguments", _pretty(decision.args))
    if request.resumed_at is not None:
        table.add_row("resumed", Text(request.resumed_at.isoformat()))
    return Group(Text(""), table)


def audit_table(
    events: Iterable[AuditEvent], title: str, *, width: int | None = None
) -> RenderableType:
    """The trail in order: who did what, with which arguments, and what they said.

    Narrower than `NARROW`, each event gets a few plain lines instead of a folded row.
    """
    if width is not None and width < NARROW:
        return _audit_lines(list(events), title)
    table = Table(title=title, title_justify="left")
    columns = (
        "seq",
        "at (UTC)",
        "kind",
        "request",
        "actor",
        "decision",
        "args",
        "feedback / detail",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for event in events:
        table.add_row(
            Text(str(event.seq) if event.seq is not None else "-"),
            Text(event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")),
            Text(event.kind.value),
            Text(event.request_id or "-"),
            Text(event.actor or "-"),
            Text(event.decision or "-"),
            Text(_event_args(event)),
            Text(_event_note(event)),
        )
    return table


def _audit_lines(events: list[AuditEvent], title: str) -> RenderableType:
    """The narrow-terminal trail: seq, time, kind, actor, decision; request, args, detail."""
    lines: list[RenderableType] = [Text(title, style="italic")]
    for event in events:
        head = Text(f"{event.seq if event.seq is not None else '-'}", style="bold")
        head.append(f"  {event.at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S')}")
        head.append(f"  {event.kind.value}  by {event.actor or '-'}")
        if event.decision:
            head.append(f"  {event.decision}")
        lines.append(head)
        for part in (event.request_id, _event_args(event), _event_note(event)):
            if part and part != "-":
                lines.append(Text(f"    {part}"))
    return Group(*lines)


def _event_args(event: AuditEvent) -> str:
    """The arguments, or for an edit what the reviewer changed."""
    if event.edited_args is not None:
        changes = args_diff(event.args or {}, event.edited_args)
        return "edited: " + ("; ".join(map(str, changes)) or "(no change)")
    return short_args(event.args or {})


def _event_note(event: AuditEvent) -> str:
    """The feedback, else what the event's detail says (answer, reason, output), cut short."""
    if event.feedback:
        return _cut(event.feedback, SHORT_NOTE)
    for key in ("answer", "reason", "output"):
        value = event.detail.get(key)
        if isinstance(value, str):
            return _cut(f"{key}: {value}", SHORT_NOTE)
    return "-"
