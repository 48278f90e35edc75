"""The processes the fault tests start, forked from one server that imported everything.

A ``hitl worker`` over every adapter spends about 2.5 s of CPU importing LangGraph and the
Agents SDK before it does anything. The fault tests kill a worker every half second and
race fresh processes against each other, so they fork each process from a multiprocessing
fork server that made those imports once: a process costs tens of milliseconds, and is
still a process of its own, sharing nothing with its siblings or the test but the store
and the journal files. (Nothing in the server opens a connection or starts a thread.)

Every process started here is killed when the test's `Forks` closes, whatever happened,
and dies with the fork server if the test process itself is killed (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from hitl_conformance.adapters import installed_adapters

__all__ = ["Forks", "fork_context", "forks", "hitl_worker", "stop_fork_server"]

PRELOAD = [
    "hitl_cli.app",
    "hitl_core",
    "hitl_core.stores.postgres",
    "hitl_core.stores.sqlite",
    "tests.every_adapter_app",
    "tests.faults.forks",
    "tests.faults.race",
]
"""What the fork server imports before its first fork (and every adapter's driver)."""

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent (the fork server) exits, and let
    the fork server exit when the test process does.

    The fork server exits once nobody holds the write end of its "alive" pipe. Every
    child it forks inherits that end (to fork children of its own), so a child kept the
    server alive, and the server kept the child alive, after the test process died:
    closing it here leaves the test process its only holder.
    """
    server = multiprocessing.forkserver._forkserver
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        with contextlib.suppress(OSError):
            os.close(alive)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010 - private, untyped
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _redirect(log: str) -> None:
    """Send this process's stdout and stderr to `log` (appending)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def child_main(
    target: Callable[..., Any], args: Sequence[Any], env: Mapping[str, str], log: str
) -> None:
    """What every forked process runs: set up, then `target(*args)`."""
    _die_with_parent()
    _redirect(log)
    os.environ.update(env)
    target(*args)


def hitl_worker(argv: Sequence[str]) -> None:
    """The ``hitl`` command line with `argv` (``worker --store ...``), as the console script."""
    from hitl_cli.app import main

    sys.argv = ["hitl", *argv]
    main(list(argv))


class Forks:
    """The processes one test started; `close` kills whichever are still alive."""

    def __init__(self, context: ForkServerContext, directory: Path) -> None:
        self.context = context
        self.directory = directory
        self.started: list[BaseProcess] = []

    def start(
        self,
        target: Callable[..., Any],
        *args: Any,
        name: str,
        env: Mapping[str, str] | None = None,
    ) -> BaseProcess:
        """Fork a process running `target(*args)`; its output goes to ``<name>.log``."""
        log = str(self.directory / f"{name}.log")
        process = self.context.Process(
            target=child_main, args=(target, args, dict(env or {}), log), name=name, daemon=False
        )
        process.start()
        self.started.append(process)
        return process

    def log(self, name: str, tail: int = 4000) -> str:
        """The end of a process's output, for a failure message."""
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def close(self) -> None:
        """Kill every process still alive and reap them all."""
        for process in self.started:
            if process.is_alive():
                with contextlib.suppress(Exception):
                    process.kill()
        for process in self.started:
            with contextlib.suppress(Exception):
                process.join(timeout=10)
            with contextlib.suppress(Exception):
                process.close()
        self.started.clear()


def fork_context() -> ForkServerContext:
    """The fork server's context, set to preload `PRELOAD` (it starts at the first fork)."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    drivers = [f"{adapter}.conformance" for adapter in installed_adapters()]
    context.set_forkserver_preload([*PRELOAD, *drivers])
    return context


def stop_fork_server() -> None:
    """Stop the fork server (its children die with it, see `child_main`)."""
    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)  # private, 3.11+
    if callable(stop):
        with contextlib.suppress(Exception):
            stop()


@contextlib.contextmanager
def forks(context: ForkServerContext, directory: Path) -> Iterator[Forks]:
    """A `Forks` for one test, its logs in `directory`; everything it started is killed
    on the way out."""
    directory.mkdir(parents=True, exist_ok=True)
    started = Forks(context, directory)
    try:
        yield started
    finally:
        started.close()
