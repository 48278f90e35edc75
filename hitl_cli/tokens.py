"""`hitl token`: a new bearer token for a reviewer, and the block the server keeps instead.

The token is printed once and never stored; the reviewers file gets only its SHA-256,
so whoever can read that file still cannot act as the reviewer.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hitl_cli.options import JsonFlag, error_console, print_json
from hitl_core.policy_files import dump_toml
from hitl_core.reviewers import ReviewerEntry, hash_token, new_token

__all__ = ["reviewer_block", "token"]


def reviewer_block(entry: ReviewerEntry) -> str:
    """The ``[[reviewer]]`` TOML table to append to the reviewers file."""
    return "[[reviewer]]\n" + dump_toml(entry.model_dump(mode="json"))


def token(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The reviewer's id.")],
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="A role the reviewer holds (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a reviewer's token, and the TOML block that lists them in the reviewers file."""
    secret = new_token()
    entry = ReviewerEntry(id=name, roles=tuple(role or ()), token_sha256=hash_token(secret))
    if as_json:
        data = {"token": secret, "reviewer": entry.model_dump(mode="json")}
        print_json(json.dumps(data, indent=2))
        return
    # The token goes to the terminal (stderr) and the block to stdout, so
    # `hitl token alice >> reviewers.toml` appends the block and shows the token.
    notes = error_console()
    notes.print(f"Token for {name!r}; give it to them, it is not shown again:", markup=False)
    notes.print(secret, markup=False, soft_wrap=True)
    notes.print("The [[reviewer]] block for the reviewers file is on stdout.", markup=False)
    print(reviewer_block(entry), end="")
