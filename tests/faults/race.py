"""One contender of a race: a fresh process that resumes a run the moment its rival does.

`resume_run` builds the adapter's conformance driver from a `DriverConfig` in JSON, waits
at a barrier shared with the other contender (so both call ``resume`` within microseconds
of each other), resumes, and writes what happened as one JSON line: ``{"status":
"completed"}`` (or ``"paused"``), or ``{"error": "RunBusy", "message": ...}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from threading import Barrier
from typing import Any

from hitl_conformance.driver import DriverConfig, load_factory

__all__ = ["BARRIER_TIMEOUT", "resume_run"]

BARRIER_TIMEOUT = 60.0
"""Seconds a contender waits for its rival before giving up (a rival that never came)."""


def resume_run(factory: str, config_json: str, run_id: str, barrier: Barrier, out: str) -> None:
    """Resume `run_id` once `barrier` lets both contenders go; the outcome goes to `out`."""
    driver = load_factory(factory)(DriverConfig.model_validate_json(config_json))
    line: dict[str, Any]
    try:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        try:
            line = {"status": driver.resume(run_id).status}
        except Exception as error:
            line = {"error": type(error).__name__, "message": str(error)}
    finally:
        driver.close()
    Path(out).write_text(json.dumps(line) + "\n")
