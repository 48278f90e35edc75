"""What the suite observes, written to files so a fresh process adds to the same record.

`executions.jsonl` gets one line per real tool execution (from the recording tools);
`observations.jsonl` gets one line per tool result the scripted model was shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Execution", "Journal", "Observation"]


class Execution(BaseModel):
    """A tool really ran, with these arguments."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, Any]


class Observation(BaseModel):
    """The model was shown this result for this call."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    content: str


class Journal:
    """Append-only JSON-lines files in one directory, safe to share between processes."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _append(self, name: str, model: BaseModel) -> None:
        line = model.model_dump_json() + "\n"
        # One write of a short line in append mode: lines from processes never interleave.
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def _read(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def executed(self, tool: str, args: dict[str, Any]) -> None:
        self._append("executions.jsonl", Execution(tool=tool, args=args))

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
