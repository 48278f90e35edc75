"""``python -m hitl_conformance.child FACTORY RUN_ID [GO]`` (config on stdin): one fresh resume.

Prints one JSON line: the neutral outcome, or ``{"error": <class name>, "message": ...}``
for a hitl-kit error, so a test can tell a `RunBusy` from a crash. With ``GO`` it
builds the driver first and waits for the file GO to appear before resuming, so several
children can be released at the same instant.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from hitl_conformance.driver import DriverConfig, load_factory
from hitl_core.errors import HITLError

GO_TIMEOUT = 60.0


def main() -> None:
    ref, run_id = sys.argv[1:3]
    go = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    config = DriverConfig.model_validate_json(sys.stdin.read())
    driver = load_factory(ref)(config)
    try:
        if go is not None:
            (go.parent / f"{go.name}.ready.{os.getpid()}").touch()
            deadline = time.monotonic() + GO_TIMEOUT
            while not go.exists() and time.monotonic() < deadline:
                time.sleep(0.005)
        try:
            outcome = driver.resume(run_id)
        except HITLError as error:
            print(json.dumps({"error": type(error).__name__, "message": error.message}))
            return
    finally:
        driver.close()
    print(outcome.model_dump_json())


if __name__ == "__main__":
    main()
