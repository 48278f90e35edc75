"""Real child processes running `examples.claims.claim_process`, for the crash scenario."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from examples.claims.agent import Claim

__all__ = ["ClaimProcess"]

ROOT = Path(__file__).resolve().parents[2]
"""The project root: `python -m examples...` must run from here."""
STEP_TIMEOUT = 60.0
"""Longest wait for the child's next line before the scenario gives up."""


class ClaimProcess:
    """A child process handling one claim; its JSON lines are read with a timeout."""

    def __init__(self, store_url: str, ledger: Path, claim: Claim) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self._popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.claims.claim_process",
                store_url,
                str(ledger),
                claim.model_dump_json(),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self._popen.pid
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._popen.stdout is not None
        threading.Thread(target=self._read, args=(self._popen.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self._lines.put(line)
        self._lines.put(None)

    def next_event(self) -> dict[str, Any]:
        """The child's next step, e.g. ``{"event": "submitted", "requests": [...]}``.

        Raises:
            RuntimeError: the child exited or said nothing for `STEP_TIMEOUT` seconds.
        """
        try:
            line = self._lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            self.kill()
            raise RuntimeError(
                f"claim process {self.pid} said nothing for {STEP_TIMEOUT}s"
            ) from None
        if line is None:
            raise RuntimeError(f"claim process {self.pid} exited with {self._popen.wait()}")
        event: dict[str, Any] = json.loads(line)
        return event

    def kill(self) -> int:
        """SIGKILL: no cleanup, no last words, exactly what a crash looks like."""
        self._popen.kill()
        return self._popen.wait(timeout=STEP_TIMEOUT)

    def wait(self) -> int:
        return self._popen.wait(timeout=STEP_TIMEOUT)
