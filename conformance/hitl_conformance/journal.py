"""What the suite observes, written to files so a fresh process adds to the same record.

`executions.jsonl` gets one line per real tool execution (from the recording tools), made
durable (fsync) before the tool goes on, so a process killed right after its side effect
still leaves the line: executions are counted from it. `observations.jsonl` gets one line
per tool result the scripted model was shown. `faults.json`, when present, tells the
recording tools to misbehave on purpose (`Faults`): to take long, or to kill their own
process right after their side effect, which is how the suite simulates a crash between
a call's effect and its record.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Execution", "Faults", "Journal", "Observation"]


class Execution(BaseModel):
    """A tool really ran, with these arguments."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, Any]
    pid: int | None = None
    """The process that ran it."""


class Observation(BaseModel):
    """The model was shown this result for this call."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    content: str


class Faults(BaseModel):
    """How the recording tools misbehave, for fault tests (all off by default)."""

    model_config = ConfigDict(frozen=True)

    delay_before_effect: float = 0.0
    """Seconds a tool spends before its side effect (a long tool)."""
    delay_after_effect: float = 0.0
    """Seconds a tool spends after its side effect, before it returns (a window for a crash)."""
    crash_after_effect: bool = False
    """The next tool to run kills its own process (SIGKILL) right after its side effect.
    One shot: the first process to take it consumes it."""


class Journal:
    """Append-only JSON-lines files in one directory, safe to share between processes."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _append(self, name: str, model: BaseModel, *, durable: bool = False) -> None:
        line = model.model_dump_json() + "\n"
        # One write of a short line in append mode: lines from processes never interleave.
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _read(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def executed(self, tool: str, args: dict[str, Any]) -> None:
        """Record a real execution, durably, then apply the faults asked for."""
        faults = self.faults()
        if faults.delay_before_effect:
            self._mark("in_tool")
            time.sleep(faults.delay_before_effect)
        self._append(
            "executions.jsonl", Execution(tool=tool, args=args, pid=os.getpid()), durable=True
        )
        if faults.crash_after_effect and self._take("crash_after_effect"):
            os.kill(os.getpid(), signal.SIGKILL)
        if faults.delay_after_effect:
            time.sleep(faults.delay_after_effect)

    def saw(self, call_id: str, content: str) -> None:
        """Record a tool result the model was shown (call it each time the model is called)."""
        self._append("observations.jsonl", Observation(call_id=call_id, content=content))

    def executions(self) -> list[Execution]:
        return [Execution.model_validate(d) for d in self._read("executions.jsonl")]

    def observations(self) -> dict[str, list[str]]:
        """Every distinct content shown for each call id, in first-seen order."""
        seen: dict[str, list[str]] = {}
        for d in self._read("observations.jsonl"):
            contents = seen.setdefault(d["call_id"], [])
            if d["content"] not in contents:
                contents.append(d["content"])
        return seen

    def told(self) -> dict[str, str]:
        """What the model was told for each call (the single content it was shown)."""
        return {call_id: contents[-1] for call_id, contents in self.observations().items()}

    # -- faults ---------------------------------------------------------------------

    def set_faults(self, faults: Faults | None) -> None:
        """Make the recording tools misbehave from now on (None: behave again)."""
        path = self.directory / "faults.json"
        for marker in ("crash_after_effect", "in_tool"):
            (self.directory / marker).unlink(missing_ok=True)
        if faults is None:
            path.unlink(missing_ok=True)
            return
        if faults.crash_after_effect:
            (self.directory / "crash_after_effect").touch()
        path.write_text(faults.model_dump_json())

    def faults(self) -> Faults:
        path = self.directory / "faults.json"
        return Faults.model_validate_json(path.read_text()) if path.exists() else Faults()

    def in_tool(self) -> bool:
        """Whether a slow tool has started (and is spending its `delay_before_effect`)."""
        return (self.directory / "in_tool").exists()

    def _mark(self, name: str) -> None:
        (self.directory / name).write_text(str(os.getpid()))

    def _take(self, name: str) -> bool:
        """Consume a one-shot marker; True for the one process that got it."""
        try:
            os.rename(self.directory / name, self.directory / f"{name}.taken")
        except FileNotFoundError:
            return False
        return True
