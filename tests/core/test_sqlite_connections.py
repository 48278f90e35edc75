"""The SQLite store holds one connection per live thread, not one per thread ever seen.

LangGraph runs tools on a fresh executor per run; a store that kept every executor
thread's connection ran out of file descriptors after a few hundred runs.
"""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

from hitl_core import open_store
from tests.factories import payment_request


def open_files() -> int:
    gc.collect()  # stores other tests dropped close their files when collected, not here
    return len(os.listdir("/proc/self/fd"))


def test_short_lived_threads_reuse_connections_instead_of_leaking_them(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'approvals.db'}")
    request = store.put(payment_request())
    seen: list[str] = []

    def read() -> None:
        seen.append(store.get(request.id).id)

    def one_thread() -> None:
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()

    one_thread()  # the first worker thread's connection, kept for the next one
    before = open_files()
    for _ in range(300):
        one_thread()
    assert seen == [request.id] * 301
    assert open_files() == before
    store.close()


def test_concurrent_threads_each_get_their_own_connection(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'approvals.db'}")
    requests = [store.put(payment_request()) for _ in range(8)]
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def decide(request_id: str) -> None:
        try:
            barrier.wait()
            store.decide(request_id, {"type": "approve", "by": "ana"})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=decide, args=(r.id,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [store.get(r.id).status.value for r in requests] == ["decided"] * 8
    store.close()
