"""A real uvicorn server on a free loopback port, for tests that need sockets (SSE, browser)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

STARTUP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve(app: FastAPI, *, port: int | None = None) -> Iterator[str]:
    """Run `app` under uvicorn in a thread; yield its base URL; stop it on exit."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)


async def reviewer_clients(
    stack: AsyncExitStack, url: str, tokens: Sequence[str], *, timeout: float
) -> list[httpx.AsyncClient]:
    """One HTTP client per reviewer, entered on `stack`, as each person has a browser.

    One client holding hundreds of connections spends its time scanning its own pool
    (httpcore is quadratic in open connections), so a load run would measure that
    instead of the server.
    """
    tls = ssl.create_default_context()  # shared: building one per client costs ~10 ms each
    return [
        await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=timeout,
                verify=tls,
            )
        )
        for token in tokens
    ]
