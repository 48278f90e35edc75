"""``python -m hitl_conformance.child FACTORY RUN_ID`` (config on stdin): one fresh resume."""

from __future__ import annotations

import sys

from hitl_conformance.driver import DriverConfig, load_factory


def main() -> None:
    ref, run_id = sys.argv[1:3]
    config = DriverConfig.model_validate_json(sys.stdin.read())
    driver = load_factory(ref)(config)
    try:
        outcome = driver.resume(run_id)
    finally:
        driver.close()
    print(outcome.model_dump_json())


if __name__ == "__main__":
    main()
