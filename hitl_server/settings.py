"""The server's settings, and `build_app`: the review app from a store URL and files.

`hitl serve` builds its app here, so the files are read (and refused with a clear
message) before the server listens, and the store it opens is closed when it stops.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from hitl_core.errors import InvalidInput
from hitl_core.policy import Policy
from hitl_core.reviewers import Reviewers
from hitl_core.stores import open_store
from hitl_core.worker import Registry
from hitl_server.app import create_app
from hitl_server.dispatcher import Dispatcher
from hitl_server.webhook_config import load_webhooks

__all__ = ["ServerSettings", "build_app", "load_registry"]

WEBHOOKS_STOP_TIMEOUT = 10.0
"""Longest shutdown waits for a webhook attempt in flight (an attempt's own timeout is 5 s)."""


class ServerSettings(BaseModel):
    """Where the server's store, reviewers, policy and agents come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    store_url: str
    """``sqlite:///approvals.db``, ``postgresql://...`` (``memory://`` for demos)."""
    reviewers_file: Path
    """The reviewers TOML: ids, roles and token digests (`hitl_core.reviewers`)."""
    policy_file: Path | None = None
    """The policy (TOML or JSON) whose rules say who may decide which tool."""
    app: str | None = None
    """``MODULE:REGISTRY`` as for ``hitl worker --app``: with it, decisions resume runs."""
    webhooks_file: Path | None = None
    """``[[webhook]]`` endpoints (`hitl_server.webhook_config`): delivered while the app runs."""


def load_registry(ref: str) -> Registry:
    """The registry ``MODULE:ATTRIBUTE`` names (``REGISTRY`` when the attribute is left out).

    Like ``hitl worker --app``, the current directory is importable.

    Raises:
        InvalidInput: the module cannot be imported or does not hold a mapping there.
    """
    module_name, _, attribute = ref.partition(":")
    attribute = attribute or "REGISTRY"
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidInput(f"Cannot import {module_name!r} for --app {ref!r}: {error}") from None
    registry = getattr(module, attribute, None)
    if not isinstance(registry, Mapping):
        raise InvalidInput(
            f"--app {ref!r}: {module_name}.{attribute} is not a registry; define a mapping "
            "of adapter name to builder, e.g. REGISTRY = {'hitl_loop': build_resume}."
        )
    return registry


def build_app(settings: ServerSettings) -> FastAPI:
    """The review app the settings describe, owning its store (closed when the app stops).

    Raises:
        InvalidInput: the reviewers or policy file is invalid, or `app` names no registry.
        OSError: a file cannot be read.
        StoreError, UnsupportedStoreURL, MissingDependency: the store cannot be opened.
    """
    reviewers = Reviewers.from_file(settings.reviewers_file)
    policy = Policy.from_file(settings.policy_file) if settings.policy_file else None
    registry = load_registry(settings.app) if settings.app else None
    endpoints = load_webhooks(settings.webhooks_file) if settings.webhooks_file else []
    store = open_store(settings.store_url)
    try:
        app = create_app(store, reviewers=reviewers, policy=policy, registry=registry)
        dispatcher = Dispatcher(store, endpoints) if endpoints else None
    except BaseException:
        store.close()
        raise
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        thread = dispatcher.start_thread() if dispatcher else None
        try:
            async with _entered(inner, running) as state:
                yield state
        finally:
            if dispatcher and thread:
                dispatcher.stop()
                thread.join(timeout=WEBHOOKS_STOP_TIMEOUT)
            store.close()

    app.router.lifespan_context = lifespan
    return app


def _entered(lifespan: Any, app: FastAPI) -> AbstractAsyncContextManager[Any]:
    context: AbstractAsyncContextManager[Any] = lifespan(app)
    return context
