"""Identities compare as RFC 8265's case-mapped username profile does, and bad ones are refused."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hitl_core.errors import InvalidIdentity
from hitl_core.identities import (
    MAX_IDENTITY,
    checked_requester,
    identity_key,
    identity_keys,
    same_identity,
)
from tests.access.conftest import BAD_REQUESTERS, LOOKALIKE, SPELLINGS, UNUSABLE

NAMES = st.from_regex(r"[a-z0-9][a-z0-9._@+-]{0,30}", fullmatch=True)
"""Plain ASCII user names, the kind reviewers files hold."""
INVISIBLE = st.characters(categories=["Cc", "Cf"])
"""Control and format characters: tabs, NUL, zero-width spaces, soft hyphens, bidi marks."""
LETTERS = st.text(st.characters(categories=["Ll", "Lu", "Lo", "Nd"]), min_size=1, max_size=20)


def full_width(text: str) -> str:
    """`text` with its ASCII letters and digits in their full-width forms (U+FF01...)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_alice_is_alice(spelling: str) -> None:
    assert identity_key(spelling) == "alice"
    assert same_identity(spelling, "alice")


@pytest.mark.parametrize("name", UNUSABLE)
def test_names_with_control_or_invisible_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidIdentity, match="cannot be used: it contains") as caught:
        identity_key(name)
    assert caught.value.value == name
    assert not same_identity(name, "alice")


def test_a_cyrillic_lookalike_is_another_person() -> None:
    assert identity_key(LOOKALIKE) != identity_key("alice")
    assert not same_identity(LOOKALIKE, "alice")
    assert unicodedata.name(LOOKALIKE[0]) == "CYRILLIC SMALL LETTER A"


@pytest.mark.parametrize("value", [["alice"], {"id": "alice"}, 3, None, b"alice"])
def test_a_non_string_is_refused_not_hashed(value: object) -> None:
    """A list or dict must not reach the cache (it would raise TypeError, not InvalidIdentity)."""
    with pytest.raises(InvalidIdentity, match="not a string"):
        identity_key(value)


@pytest.mark.parametrize("value", ["", " ", "    "])
def test_an_empty_name_is_refused(value: str) -> None:
    with pytest.raises(InvalidIdentity, match="it is empty"):
        identity_key(value)


def test_a_name_longer_than_the_limit_is_refused() -> None:
    assert identity_key("a" * MAX_IDENTITY) == "a" * MAX_IDENTITY
    with pytest.raises(InvalidIdentity, match="longer than"):
        identity_key("a" * (MAX_IDENTITY + 1))


def test_names_with_inner_spaces_compare_part_by_part() -> None:
    assert identity_key("Ana  María") == identity_key("ana maría")
    assert identity_key("Ana María") != identity_key("anamaría")


def test_other_spaces_around_a_name_are_not_stripped_but_refused() -> None:
    for name in ("\u00a0alice", "alice\u3000", "\talice"):
        with pytest.raises(InvalidIdentity):
            identity_key(name)


def test_unusable_names_match_nobody_in_a_list() -> None:
    assert identity_keys(["Carol", "al\u200bice", 7, "ERIN "]) == {"carol", "erin"}


@pytest.mark.parametrize("value", BAD_REQUESTERS)
def test_checked_requester_refuses_anything_but_a_usable_string(value: object) -> None:
    with pytest.raises(InvalidIdentity):
        checked_requester({"requested_by": value}, "requested_by")


def test_checked_requester_takes_any_spelling_and_no_requester() -> None:
    assert checked_requester({"requested_by": " ALICE"}, "requested_by") == " ALICE"
    assert checked_requester({"tier": "gold"}, "requested_by") is None


@given(LETTERS)
def test_identity_key_is_idempotent(text: str) -> None:
    try:
        key = identity_key(text)
    except InvalidIdentity:
        assume(False)
        return
    assert identity_key(key) == key


@given(NAMES)
def test_case_width_and_surrounding_spaces_do_not_change_who_it_is(name: str) -> None:
    key = identity_key(name)
    for variant in (
        name.upper(),
        name.title(),
        full_width(name),
        f"  {name} ",
        full_width(name.upper()),
    ):
        assert identity_key(variant) == key, variant


@given(NAMES, INVISIBLE, st.integers(min_value=0))
def test_a_control_or_format_character_anywhere_is_refused(
    name: str, char: str, position: int
) -> None:
    at = position % (len(name) + 1)
    with pytest.raises(InvalidIdentity):
        identity_key(name[:at] + char + name[at:])


@given(NAMES.filter(lambda n: "a" in n))
def test_swapping_in_a_cyrillic_a_makes_another_identity(name: str) -> None:
    assert not same_identity(name.replace("a", "\u0430", 1), name)
