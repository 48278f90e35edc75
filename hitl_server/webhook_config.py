"""Webhook endpoints: where approval events go, signed with what, and how hard to try.

Endpoints are edited by hand, so they load from TOML, one ``[[webhook]]`` table each::

    [[webhook]]
    name = "ops"                          # names the cursor and the delivery log; keep it
    url = "https://ops.example.com/hitl"
    secret_env = "OPS_WEBHOOK_SECRET"     # or: secret = "..." (keep secrets out of git)
    events = ["created", "decided", "expired"]
    max_attempts = 6
    timeout = "5s"

A list of secrets (``secret_env = ["NEW", "OLD"]``) signs every delivery with each, so a
secret can be rotated without a window in which receivers refuse deliveries.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from hitl_core.audit import AuditKind
from hitl_core.durations import Duration
from hitl_core.errors import InvalidInput

__all__ = [
    "DEFAULT_EVENTS",
    "InvalidWebhookConfig",
    "WebhookEndpoint",
    "load_webhooks",
    "parse_webhooks",
]

DEFAULT_EVENTS = frozenset({AuditKind.CREATED, AuditKind.DECIDED, AuditKind.EXPIRED})
"""What a reviewer-facing system usually wants: a request appeared, got an answer, ran out."""


class InvalidWebhookConfig(InvalidInput):
    """Webhook settings that cannot be used; every problem is listed with where it is."""

    where: str
    problems: list[str]

    def __init__(self, where: str, problems: list[str]) -> None:
        super().__init__(
            f"Invalid webhook configuration in {where}: {'; '.join(problems)}. Fix it and "
            "start the dispatcher again; nothing was sent.",
            where=where,
            problems=problems,
        )


class WebhookEndpoint(BaseModel):
    """One receiver of approval events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
    """Stable name: the store keeps this endpoint's cursor and delivery log under it, so
    renaming an endpoint starts it again from the beginning of the audit trail."""
    url: str
    """Where deliveries are POSTed (http or https)."""
    secret: tuple[SecretStr, ...] = Field(min_length=1, repr=False)
    """The signing secret(s); the first is current, the rest are being rotated out."""
    secret_env: tuple[str, ...] = ()
    """The environment variables `secret` was read from, if it was."""
    events: frozenset[AuditKind] = DEFAULT_EVENTS
    """The event kinds this endpoint receives; others pass by without a delivery."""
    max_attempts: int = Field(default=6, ge=1, le=50)
    """Attempts per event, the first included; after the last the event is given up."""
    timeout: Duration = timedelta(seconds=5)
    """How long one attempt may take, connecting included."""

    @model_validator(mode="before")
    @classmethod
    def _read_secret_env(cls, data: Any) -> Any:
        """Resolve ``secret_env`` into ``secret`` so secrets need not live in the file."""
        if not isinstance(data, Mapping):
            return data
        if data.get("secret_env") in (None, (), []):
            if data.get("secret") is None:
                raise ValueError("a secret is required: set secret = '...' or secret_env = 'NAME'")
            return data
        if data.get("secret") not in (None, (), []):
            raise ValueError("give either secret or secret_env, not both")
        raw = data["secret_env"]
        names = [raw] if isinstance(raw, str) else list(raw)
        if not all(isinstance(name, str) and name for name in names):
            raise ValueError(f"secret_env must name environment variables, got {raw!r}")
        missing = [name for name in names if not os.environ.get(name)]
        if missing:
            raise ValueError(
                f"secret_env names {', '.join(missing)}, which is not set (or empty) in "
                "the environment; export it before starting the dispatcher"
            )
        return {**data, "secret_env": names, "secret": [os.environ[name] for name in names]}

    @field_validator("secret", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | SecretStr) else value

    @field_validator("secret")
    @classmethod
    def _non_empty(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if not all(s.get_secret_value() for s in value):
            raise ValueError("a secret cannot be empty")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL like https://example.com/hook")
        return value

    @field_validator("events")
    @classmethod
    def _some_events(cls, value: frozenset[AuditKind]) -> frozenset[AuditKind]:
        if not value:
            kinds = ", ".join(k.value for k in AuditKind)
            raise ValueError(f"subscribe to at least one event kind: {kinds}")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        return timedelta(seconds=value) if isinstance(value, float) else value

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("timeout must be longer than zero")
        return value

    @property
    def secrets(self) -> list[str]:
        """The secrets in clear, current first: what `sign` takes."""
        return [s.get_secret_value() for s in self.secret]


def _problems(error: ValidationError, prefix: str) -> list[str]:
    out = []
    for item in error.errors():
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        out.append(f"{prefix}{where}: {message}")
    return out


def parse_webhooks(data: Mapping[str, Any], *, where: str = "webhooks") -> list[WebhookEndpoint]:
    """Endpoints from a parsed document holding a ``webhook`` list of tables.

    Raises:
        InvalidWebhookConfig: listing every problem, each with its place in the document.
    """
    unknown = sorted(set(data) - {"webhook"})
    if unknown:
        raise InvalidWebhookConfig(
            where, [f"unknown top-level key(s) {', '.join(unknown)}; expected [[webhook]] tables"]
        )
    tables = data.get("webhook")
    if isinstance(tables, Mapping):
        raise InvalidWebhookConfig(
            where, ["write each endpoint as a [[webhook]] table (double brackets)"]
        )
    if not isinstance(tables, list) or not tables:
        raise InvalidWebhookConfig(where, ["no endpoints: add at least one [[webhook]] table"])
    endpoints: list[WebhookEndpoint] = []
    problems: list[str] = []
    for index, table in enumerate(tables):
        label = f"webhook[{index}]"
        if isinstance(table, Mapping) and isinstance(table.get("name"), str):
            label += f" ({table['name']})"
        try:
            endpoints.append(WebhookEndpoint.model_validate(table))
        except ValidationError as error:
            problems.extend(_problems(error, label))
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.name in seen:
            problems.append(f"two endpoints are named {endpoint.name!r}; names must be unique")
        seen.add(endpoint.name)
    if problems:
        raise InvalidWebhookConfig(where, problems)
    return endpoints


def load_webhooks(path: str | Path) -> list[WebhookEndpoint]:
    """Endpoints from a TOML file of ``[[webhook]]`` tables (see the module docstring).

    Raises:
        InvalidWebhookConfig: the file is missing, is not TOML, or describes bad endpoints.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        problem = f"cannot read the file ({error.strerror})"
        raise InvalidWebhookConfig(str(path), [problem]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidWebhookConfig(str(path), [f"not valid TOML: {error}"]) from None
    return parse_webhooks(data, where=str(path))
