"""A throwaway PostgreSQL server for the test suite (and benchmarks), started on demand.

Uses ``HITL_TEST_POSTGRES_URL`` when set. Otherwise it runs ``initdb`` and ``pg_ctl`` from
the machine's PostgreSQL binaries into a temporary directory, listening on a free
loopback port; as root, it runs them as the ``postgres`` user (``initdb`` refuses root).
A server of its own (``start_server(own=True)``) can also be crashed and restarted.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "start_server"]


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be had on this machine."""


@dataclass
class PostgresServer:
    url: str
    """A superuser URL to the ``postgres`` database."""
    directory: Path | None = None
    bin_dir: Path | None = None

    def stop(self) -> None:
        if self.directory is None or self.bin_dir is None:
            return
        self._pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self) -> None:
        """Crash the server (``pg_ctl -m immediate``: no shutdown checkpoint, every
        connection cut) and start it again on the same port; returns once it accepts
        connections again, after crash recovery.

        Raises:
            PostgresUnavailable: the server is not one this module started.
        """
        if self.directory is None or self.bin_dir is None:
            raise PostgresUnavailable(f"{self.url} was not started here; it cannot restart")
        self._pg_ctl("-m", "immediate", "-w", "restart")

    def _pg_ctl(self, *arguments: str, check: bool = True) -> None:
        assert self.directory is not None
        assert self.bin_dir is not None
        data = str(self.directory / "data")
        log = str(self.directory / "server.log")
        _run_as_owner(
            [str(self.bin_dir / "pg_ctl"), "-D", data, "-l", log, *arguments], check=check
        )


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("no PostgreSQL binaries (initdb) on this machine")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run_as_owner(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)


def start_server(*, own: bool = False) -> PostgresServer:
    """A server for this test session. Raises `PostgresUnavailable` when none can start.

    Args:
        own: start a server of its own even when ``HITL_TEST_POSTGRES_URL`` is set (one
            that `PostgresServer.restart` can crash and restart).
    """
    url = os.environ.get("HITL_TEST_POSTGRES_URL")
    if url and not own:
        return PostgresServer(url=url)
    bin_dir = _bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="hitl-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    port = _free_port()
    try:
        _run_as_owner(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "hitl",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        _run_as_owner(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(directory / "server.log"),
                "-w",
                "-o",
                f"-p {port} -h 127.0.0.1 -k {directory} -c fsync=off -c max_connections=200",
                "start",
            ]
        )
    except (subprocess.CalledProcessError, FileNotFoundError, KeyError) as error:
        shutil.rmtree(directory, ignore_errors=True)
        detail = getattr(error, "stderr", "") or str(error)
        raise PostgresUnavailable(f"PostgreSQL did not start: {detail}") from error
    return PostgresServer(
        url=f"postgresql://hitl@127.0.0.1:{port}/postgres", directory=directory, bin_dir=bin_dir
    )
