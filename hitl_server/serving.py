"""Running the review app under uvicorn so that shutting down ends its event streams.

uvicorn waits for open responses to finish before it runs the app's shutdown, and an
event stream never finishes by itself: under a plain ``uvicorn.run`` a SIGTERM would
wait on every connected inbox. `ReviewServer` ends the streams first (each at its
next poll), so the connections drain and the app shuts down; browsers reconnect with
``Last-Event-ID`` to whichever server takes over.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = ["ReviewServer", "close_event_streams", "serve"]


def close_event_streams(app: object) -> None:
    """End every open ``/v1/events`` stream of a `create_app` app (others are ignored)."""
    context = getattr(getattr(app, "state", None), "hitl", None)
    feed = getattr(context, "feed", None)
    if feed is not None:
        feed.close()


class ReviewServer(uvicorn.Server):
    """`uvicorn.Server` that ends the app's event streams as soon as it starts shutting down."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        close_event_streams(self.config.app)
        await super().shutdown(sockets)


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve `app` until SIGINT/SIGTERM; `options` go to `uvicorn.Config` (log_level...)."""
    ReviewServer(uvicorn.Config(app, host=host, port=port, **options)).run()
