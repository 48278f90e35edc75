"""`hitl approve|reject|edit|respond`: record a reviewer's decision from the terminal.

The CLI trusts whoever can open the store: ``--as`` is taken at its word, because the
operator who holds the store's URL could write to it directly anyway. The policy's
reviewer and role rules and the no-self-approval rule still apply, to keep honest
operators from slips; the HTTP API is the surface that authenticates reviewers.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from hitl_cli.edits import apply_sets
from hitl_cli.options import JsonFlag, StoreURL, console, existing_store, print_json
from hitl_cli.render import request_view
from hitl_core import AnyDecision, ApprovalRequest, Approve, Edit, Policy, Reject, Respond
from hitl_core.access import Reviewer, check_decider
from hitl_core.decisions import DecisionKind
from hitl_core.errors import InvalidInput

__all__ = ["approve", "edit", "reject", "respond"]

RequestID = Annotated[str, typer.Argument(metavar="ID", help="The request to decide.")]
ReviewerName = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="HITL_REVIEWER",
        show_envvar=True,
        help="Who decides, recorded as the decision's `by` (default: your OS user name).",
    ),
]
Roles = Annotated[
    list[str] | None,
    typer.Option("--role", help="A role the reviewer holds, for the policy (repeatable)."),
]
PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        envvar="HITL_POLICY",
        show_envvar=True,
        exists=True,
        dir_okay=False,
        help="Policy file (.toml/.json) whose per-tool reviewers and roles apply.",
    ),
]
Feedback = Annotated[str | None, typer.Option(help="A note for the agent and the audit trail.")]

Build = Callable[[ApprovalRequest, str], AnyDecision]
"""Makes the decision from the request as stored and the reviewer's id."""


def _reviewer(name: str | None, roles: list[str] | None) -> Reviewer:
    if name is None:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            raise typer.BadParameter(
                "cannot tell who you are from the OS; name yourself with --as.",
                param_hint="'--as' / HITL_REVIEWER",
            ) from None
    return Reviewer(id=name, roles=tuple(roles or ()))


def _bound(request: ApprovalRequest) -> dict[str, Any]:
    """The binding every decision carries: the request and the exact arguments shown."""
    return {"request_id": request.id, "args_digest": request.args_digest}


def _decide(
    store_url: str,
    request_id: str,
    kind: DecisionKind,
    build: Build,
    *,
    name: str | None,
    roles: list[str] | None,
    policy_file: Path | None,
    as_json: bool,
) -> None:
    """Check the reviewer, record the decision, print the request as decided.

    Raises:
        NotAuthorized / SelfApproval: the policy or the requester rule refuses the reviewer.
        AlreadyDecided, RequestExpired, DecisionNotAllowed, EditArgumentsInvalid,
            UnknownRequest: from the store. In every case nothing is written.
    """
    reviewer = _reviewer(name, roles)
    policy = Policy.from_file(policy_file) if policy_file is not None else None
    with existing_store(store_url) as store:
        request = store.get(request_id)
        check_decider(request, reviewer, kind, policy=policy)
        decided = store.decide(request.id, build(request, reviewer.id), roles=reviewer.roles)
        now = store.clock.now()
    if as_json:
        print_json(decided.model_dump_json(indent=2))
        return
    out = console()
    assert decided.decision is not None
    out.print(f"Request {decided.id} {decided.decision.outcome} by {reviewer.id}.", markup=False)
    out.print(request_view(decided, now))


def approve(
    request_id: RequestID,
    store: StoreURL,
    feedback: Feedback = None,
    name: ReviewerName = None,
    role: Roles = None,
    policy: PolicyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a request: the call runs exactly as proposed."""
    _decide(
        store,
        request_id,
        "approve",
        lambda request, by: Approve(by=by, feedback=feedback, **_bound(request)),
        name=name,
        roles=role,
        policy_file=policy,
        as_json=as_json,
    )


def reject(
    request_id: RequestID,
    store: StoreURL,
    feedback: Feedback = None,
    name: ReviewerName = None,
    role: Roles = None,
    policy: PolicyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Reject a request: nothing runs; the agent is told why (--feedback)."""
    _decide(
        store,
        request_id,
        "reject",
        lambda request, by: Reject(by=by, feedback=feedback, **_bound(request)),
        name=name,
        roles=role,
        policy_file=policy,
        as_json=as_json,
    )


def edit(
    request_id: RequestID,
    store: StoreURL,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Change one argument (repeatable); dotted keys reach into objects; the "
            "value is JSON when it parses, else text.",
        ),
    ] = None,
    args_file: Annotated[
        Path | None,
        typer.Option(
            "--args-file",
            exists=True,
            dir_okay=False,
            help="A JSON object replacing all the arguments (--set applies on top).",
        ),
    ] = None,
    feedback: Feedback = None,
    name: ReviewerName = None,
    role: Roles = None,
    policy: PolicyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Edit a request: the same tool runs with changed arguments, checked against its schema."""
    if not sets and args_file is None:
        raise typer.BadParameter("give --set KEY=VALUE (repeatable) or --args-file F.json.")
    replacement = _read_args(args_file) if args_file is not None else None

    def build(request: ApprovalRequest, by: str) -> Edit:
        base = replacement if replacement is not None else request.action.args
        args = apply_sets(base, sets or [])
        return Edit(
            by=by, args=args, tool=request.action.tool, feedback=feedback, **_bound(request)
        )

    _decide(
        store,
        request_id,
        "edit",
        build,
        name=name,
        roles=role,
        policy_file=policy,
        as_json=as_json,
    )


def respond(
    request_id: RequestID,
    store: StoreURL,
    answer: Annotated[str, typer.Option(help="Returned to the agent as the call's result.")],
    name: ReviewerName = None,
    role: Roles = None,
    policy: PolicyFile = None,
    as_json: JsonFlag = False,
) -> None:
    """Respond to a request: nothing runs; your answer is the call's result."""
    _decide(
        store,
        request_id,
        "respond",
        lambda request, by: Respond(by=by, answer=answer, **_bound(request)),
        name=name,
        roles=role,
        policy_file=policy,
        as_json=as_json,
    )


def _read_args(path: Path) -> dict[str, Any]:
    """The replacement arguments in an ``--args-file``.

    Raises:
        InvalidInput: the file is not JSON or not a JSON object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise InvalidInput(
            f"--args-file {path}: not valid JSON ({error}). The pending request is unchanged."
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(
            f"--args-file {path}: holds a JSON {type(data).__name__}, not an object of "
            "arguments. The pending request is unchanged."
        )
    return data
