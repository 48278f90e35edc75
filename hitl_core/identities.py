"""How reviewer and requester identities compare: as the PRECIS username profile says.

"Alice", "ALICE", " alice" and "alice" in full-width letters are one person; a name with
a zero-width space, a soft hyphen or a control character inside is refused rather than
guessed at, and a Cyrillic look-alike stays a different identity (scripts are never
folded). The rules are RFC 8265's UsernameCaseMapped profile with case folding
(`precis_i18n`), applied to each space-separated part of a name after its surrounding
spaces are removed, as RFC 8265 suggests for user names that contain spaces. Roles
compare the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from hitl_core.errors import InvalidIdentity

__all__ = ["MAX_IDENTITY", "checked_requester", "identity_key", "identity_keys", "same_identity"]

_PROFILE = "UsernameCaseMapped:CaseFold"
MAX_IDENTITY = 256
"""Longest identity accepted, in characters (before folding)."""


def identity_key(value: object) -> str:
    """The form two identities are compared in: folded, width-mapped, normalised.

    Raises:
        InvalidIdentity: not a string, empty, too long, or holding characters PRECIS
            disallows (controls, invisible and ignorable characters, unassigned code points).
    """
    if not isinstance(value, str):  # before the cache, which would choke on a list
        raise InvalidIdentity(value, f"it is a {type(value).__name__}, not a string")
    return _key(value)


@lru_cache(maxsize=4096)
def _key(value: str) -> str:
    import precis_i18n

    stripped = value.strip(" ")
    if not stripped:
        raise InvalidIdentity(value, "it is empty")
    if len(stripped) > MAX_IDENTITY:
        raise InvalidIdentity(value, f"it is longer than {MAX_IDENTITY} characters")
    profile = precis_i18n.get_profile(_PROFILE)
    parts: list[str] = []
    for part in stripped.split(" "):
        if not part:
            continue  # runs of spaces between parts count as one
        try:
            parts.append(profile.enforce(part))
        except UnicodeEncodeError as error:
            reason = str(error.reason).split("/")[-1].replace("_", " ")
            char = error.object[error.start : error.end]
            raise InvalidIdentity(value, f"it contains {char!r} ({reason})") from None
    return " ".join(parts)


def same_identity(a: object, b: object) -> bool:
    """Whether two identities name the same person (False when either is missing or invalid)."""
    if a is None or b is None:
        return False
    try:
        return identity_key(a) == identity_key(b)
    except InvalidIdentity:
        return False


def identity_keys(names: Iterable[object]) -> frozenset[str]:
    """The keys of the usable names among `names`; an unusable one matches nobody."""
    keys: set[str] = set()
    for name in names:
        try:
            keys.add(identity_key(name))
        except InvalidIdentity:
            continue
    return frozenset(keys)


def checked_requester(context: dict[str, Any], key: str) -> str | None:
    """The run's requester named under `key` in its context, checked when the run starts.

    Raises:
        InvalidIdentity: the key is present but its value is not a non-empty string that
            compares safely (a list, a number, an empty string, an invisible character).
    """
    if key not in context:
        return None
    value = context[key]
    if not isinstance(value, str):
        raise InvalidIdentity(value, f"the run context's {key!r} must be a string")
    identity_key(value)
    return value
