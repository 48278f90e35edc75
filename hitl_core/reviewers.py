"""Reviewers and their bearer tokens, loaded from a TOML file that stores only digests.

    [[reviewer]]
    id = "alice"
    roles = ["finance"]
    token_sha256 = "sha256:9f86d0..."   # `hitl token` prints a new token and this line

Only the SHA-256 of each token is kept, so the file can be read by the server without
holding anything a thief could send back. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hitl_core.access import Reviewer
from hitl_core.errors import InvalidIdentity, InvalidInput, NotAuthenticated
from hitl_core.identities import identity_key

__all__ = ["ReviewerEntry", "Reviewers", "hash_token", "new_token"]

TOKEN_BYTES = 32
"""Entropy of a new token: 256 bits, as for any bearer secret."""


def hash_token(token: str) -> str:
    """The digest a reviewers file keeps for `token` (``sha256:<hex>``)."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class ReviewerEntry(BaseModel):
    """One reviewer as the file lists them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    roles: tuple[str, ...] = ()
    token_sha256: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    @field_validator("id")
    @classmethod
    def _comparable(cls, value: str) -> str:
        """An id the decision checks can compare (`identities.identity_key`)."""
        try:
            identity_key(value)
        except InvalidIdentity as error:
            raise ValueError(error.problem) from None
        return value

    @property
    def reviewer(self) -> Reviewer:
        return Reviewer(id=self.id, roles=self.roles)


class Reviewers:
    """Token -> reviewer, for authenticating requests to the review surfaces."""

    def __init__(self, entries: Iterable[ReviewerEntry]) -> None:
        self.entries = tuple(entries)
        keys = [identity_key(entry.id) for entry in self.entries]
        duplicates = sorted(
            {e.id for e, key in zip(self.entries, keys, strict=True) if keys.count(key) > 1}
        )
        if duplicates:
            raise InvalidInput(
                "Reviewer ids must be unique (compared as identities: case and width "
                f"folded); repeated: {', '.join(duplicates)}."
            )

    @classmethod
    def from_tokens(cls, tokens: Mapping[str, Reviewer]) -> Reviewers:
        """Build from plain tokens (tests, or tokens handed in by a secret manager)."""
        return cls(
            ReviewerEntry(id=who.id, roles=who.roles, token_sha256=hash_token(token))
            for token, who in tokens.items()
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any], where: str = "reviewers") -> Reviewers:
        """Load the ``[[reviewer]]`` tables of parsed TOML (or the same shape as JSON).

        Raises:
            InvalidInput: the data does not list reviewers correctly; the message says where.
        """
        unknown = sorted(set(data) - {"reviewer"})
        if unknown:
            raise InvalidInput(f"{where}: unknown keys {unknown}; list [[reviewer]] tables.")
        entries = []
        for number, item in enumerate(data.get("reviewer", []), 1):
            try:
                entries.append(ReviewerEntry.model_validate(item))
            except ValidationError as error:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: "
                    f"{e['msg'].removeprefix('Value error, ')}"
                    for e in error.errors()
                )
                raise InvalidInput(f"{where}: reviewer {number}: {problems}") from None
        return cls(entries)

    @classmethod
    def from_file(cls, path: str | Path) -> Reviewers:
        """Load a reviewers TOML file.

        Raises:
            InvalidInput: the file is not TOML or lists reviewers wrongly.
            OSError: the file cannot be read.
        """
        try:
            data = tomllib.loads(Path(path).read_text())
        except tomllib.TOMLDecodeError as error:
            raise InvalidInput(f"reviewers file {path}: not valid TOML ({error})") from None
        return cls.from_data(data, where=f"reviewers file {path}")

    def authenticate(self, token: str | None) -> Reviewer:
        """The reviewer holding `token`.

        Raises:
            NotAuthenticated: no token, or no reviewer holds it.
        """
        if not token:
            raise NotAuthenticated("No bearer token was sent")
        digest = hash_token(token)
        found: Reviewer | None = None
        for entry in self.entries:  # check every entry: timing does not reveal which matched
            if hmac.compare_digest(entry.token_sha256, digest):
                found = entry.reviewer
        if found is None:
            raise NotAuthenticated("The bearer token matches no reviewer")
        return found
