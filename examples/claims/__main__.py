"""Run the four claims scenarios and print the transcript; exit 1 if any outcome differs.

    python -m examples.claims [--workdir DIR]

The SQLite files stay in the work directory (a fresh temporary one by default), so the
store can be inspected afterwards, e.g. with the `hitl` command.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from examples.claims.scenarios import (
    Office,
    Result,
    crash_recovery,
    large_claim,
    risky_claim_expires,
    small_claim,
)
from hitl_core import ManualClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""Monday 09:00 at the simulated claims office."""


def print_audit(office: Office, results: list[Result]) -> None:
    """The office's audit trail: who did what to which call, and when (simulated time)."""
    print("\n== Audit trail of the office (scenarios 1-3)")
    for result in results:
        for event in office.store.audit(run_id=result.run_id):
            what = f"{event.kind:<8} {event.tool:<15} by {event.actor or '-':<13}"
            extra = " ".join(
                part
                for part in (
                    event.decision or "",
                    f"'{event.feedback}'" if event.feedback else "",
                    str(event.args) if event.kind == "executed" else "",
                )
                if part
            )
            print(f"  {event.at:%m-%d %H:%M} {result.run_id:<13} {what} {extra}".rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.claims", description=__doc__)
    parser.add_argument("--workdir", type=Path, help="where the SQLite files go")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="hitl-claims-"))
    print(f"Claims office files in {workdir}")

    office = Office.open(workdir / "office", clock=ManualClock(START))
    results = [
        small_claim(office, print),
        large_claim(office, print),
        risky_claim_expires(office, print),
    ]
    print_audit(office, results)
    office.store.close()
    results.append(crash_recovery(workdir / "crash", print))

    print("\n== Outcomes")
    for result in results:
        print(f"  {'ok ' if not result.problems else 'FAILED'} {result.title}")
        for problem in result.problems:
            print(f"      unexpected: {problem}")
    failed = sum(bool(r.problems) for r in results)
    print("All outcomes as expected." if not failed else f"{failed} scenario(s) went wrong.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
