"""Every failure hitl-kit reports, as one tree rooted at `HITLError`.

    HITLError
    ├── InvalidInput (ValueError)        a caller sent something unusable; nothing changed
    │   ├── UnknownDecisionKind          a decision `type` that is not approve/edit/reject/respond
    │   ├── DecisionNotAllowed           a kind the request does not allow
    │   ├── InvalidEdit
    │   │   ├── EditRenamesTool          an edit that names another tool
    │   │   └── EditArgumentsInvalid     edited arguments that fail the tool's schema
    │   ├── DecisionMismatch             a decision made for another request or other arguments
    │   ├── InvalidPolicy                policy data that cannot be loaded
    │   ├── PredicateTypeError           a threshold compared against a value of the wrong type
    │   ├── InvalidIdentity              a reviewer or requester name that cannot be compared safely
    │   └── InvalidRunState              a stored run snapshot that cannot be read
    ├── StateConflict                    the request or run is not in a state that allows this
    │   ├── AlreadyDecided               a second decision on one request
    │   ├── RequestExpired               a decision after the request's deadline
    │   ├── RequestNotDecided            resuming a request nobody has decided
    │   ├── RequestIdConflict            the same request id raised for different arguments
    │   ├── RunExists                    starting a run under an id already in use
    │   ├── RunNotPaused                 resuming a run that is finished or running
    │   ├── RunNotFailed                 retrying a run that has not failed
    │   ├── RunChanged                   saving a run someone else saved in the meantime
    │   ├── RunBusy                      another process holds the run's lease
    │   ├── LeaseLost                    this process's lease on the run was taken over
    │   ├── CallNotClaimed               settling a call the ledger has no claim of
    │   └── CallRefused                  what would run is not what was reviewed; nothing ran
    ├── NotFound (LookupError)
    │   ├── UnknownRequest
    │   └── UnknownRun
    ├── StoreError                       the durable store itself failed
    │   ├── StoreUnavailable             it cannot be reached now; retry later (transient)
    │   ├── UnsupportedStoreURL
    │   └── SchemaVersionMismatch
    ├── AccessDenied                     a reviewer may not do this; nothing changed
    │   ├── NotAuthenticated             no token, or one no reviewer holds (HTTP 401)
    │   └── NotAuthorized                the reviewer may not decide this tool (HTTP 403)
    │       └── SelfApproval             the run's requester approving their own request
    ├── MissingDependency (ImportError)  an optional extra is not installed
    └── AdapterError                     a framework adapter failed outside the contract

Every leaf carries the facts it names as attributes, says in its message what to do next,
and pickles cleanly, so it survives the trip out of a worker process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "AccessDenied",
    "AdapterError",
    "AlreadyDecided",
    "CallNotClaimed",
    "CallRefused",
    "DecisionMismatch",
    "DecisionNotAllowed",
    "EditArgumentsInvalid",
    "EditRenamesTool",
    "HITLError",
    "InvalidEdit",
    "InvalidIdentity",
    "InvalidInput",
    "InvalidPolicy",
    "InvalidRunState",
    "LeaseLost",
    "MissingDependency",
    "NotAuthenticated",
    "NotAuthorized",
    "NotFound",
    "PredicateTypeError",
    "RequestExpired",
    "RequestIdConflict",
    "RequestNotDecided",
    "RunBusy",
    "RunChanged",
    "RunExists",
    "RunNotFailed",
    "RunNotPaused",
    "SchemaVersionMismatch",
    "SelfApproval",
    "StateConflict",
    "StoreError",
    "StoreUnavailable",
    "UnknownDecisionKind",
    "UnknownRequest",
    "UnknownRun",
    "UnsupportedStoreURL",
]

_UNTOUCHED = "The pending request is unchanged."


def _rebuild(cls: type[HITLError], message: str, fields: dict[str, Any]) -> HITLError:
    """Recreate an error from its message and fields without re-running `__init__`."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "(none)"


class HITLError(Exception):
    """Base of every error hitl-kit raises; catch it to catch them all."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.__dict__.update(fields)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


class InvalidInput(HITLError, ValueError):
    """A caller sent something unusable; nothing was changed."""


class UnknownDecisionKind(InvalidInput):
    """A decision whose kind is not one of approve, edit, reject, respond."""

    kind: object

    def __init__(self, kind: object) -> None:
        super().__init__(
            f"Unknown decision kind {kind!r}. Use one of: approve, edit, reject, respond. "
            f"{_UNTOUCHED}",
            kind=kind,
        )


class DecisionNotAllowed(InvalidInput):
    """A decision of a kind the request does not allow."""

    request_id: str
    kind: str
    allowed: list[str]

    def __init__(self, request_id: str, kind: str, allowed: Iterable[str]) -> None:
        allowed = sorted(allowed)
        super().__init__(
            f"Request {request_id} does not allow a {kind!r} decision; allowed: "
            f"{_names(allowed)}. Send one of those instead. {_UNTOUCHED}",
            request_id=request_id,
            kind=kind,
            allowed=allowed,
        )


class InvalidEdit(InvalidInput):
    """An edit that cannot be executed as given."""


class EditRenamesTool(InvalidEdit):
    """An edit that names a different tool from the one under review."""

    request_id: str
    tool: str
    edited_tool: str

    def __init__(self, request_id: str, tool: str, edited_tool: str) -> None:
        super().__init__(
            f"Request {request_id} reviews a call to {tool!r}, but the edit names "
            f"{edited_tool!r}. An edit may change arguments only; reject the call and let "
            f"the agent call {edited_tool!r} itself. {_UNTOUCHED}",
            request_id=request_id,
            tool=tool,
            edited_tool=edited_tool,
        )


class EditArgumentsInvalid(InvalidEdit):
    """Edited arguments that fail the tool's argument schema."""

    request_id: str
    tool: str
    problems: list[str]

    def __init__(self, request_id: str, tool: str, problems: list[str]) -> None:
        super().__init__(
            f"The edited arguments for {tool!r} (request {request_id}) fail its schema: "
            f"{'; '.join(problems)}. Fix the arguments and send the edit again. {_UNTOUCHED}",
            request_id=request_id,
            tool=tool,
            problems=problems,
        )


class DecisionMismatch(InvalidInput):
    """A decision bound to another request, or to arguments other than the ones pending."""

    request_id: str
    field: str
    expected: str
    got: str

    def __init__(self, request_id: str, field: str, expected: str, got: str) -> None:
        super().__init__(
            f"The decision was made for {field} {got!r}, but request {request_id} has "
            f"{field} {expected!r}. Reload the request, review what it shows now, and "
            f"decide again. {_UNTOUCHED}",
            request_id=request_id,
            field=field,
            expected=expected,
            got=got,
        )


class InvalidPolicy(InvalidInput):
    """Policy data that cannot be turned into a `Policy`."""

    problem: str
    where: str

    def __init__(self, problem: str, where: str = "policy") -> None:
        super().__init__(f"Invalid {where}: {problem}", problem=problem, where=where)


class PredicateTypeError(InvalidInput):
    """A threshold compared with a value of an incompatible type, in the predicate itself."""

    problem: str

    def __init__(self, problem: str) -> None:
        super().__init__(f"Invalid predicate: {problem}", problem=problem)


class InvalidIdentity(InvalidInput):
    """A reviewer or requester identity that cannot be compared with others safely."""

    value: object
    problem: str

    def __init__(self, value: object, problem: str) -> None:
        super().__init__(
            f"The identity {value!r:.80} cannot be used: {problem}. Identities are compared "
            "as the PRECIS username profile compares them (RFC 8265: case and width "
            "folded); use a plain name such as 'ana@example.com'. Nothing was written.",
            value=value,
            problem=problem,
        )


class InvalidRunState(InvalidInput):
    """A stored run snapshot that cannot be read back."""

    run_id: str
    problem: str

    def __init__(self, run_id: str, problem: str) -> None:
        super().__init__(
            f"The stored state of run {run_id} cannot be read: {problem}. The stored copy "
            "is left as it is; restore it from a backup or cancel the run.",
            run_id=run_id,
            problem=problem,
        )


class StateConflict(HITLError):
    """The request or run is not in a state that allows the operation."""


class AlreadyDecided(StateConflict):
    """A second decision on a request that already has one."""

    request_id: str
    status: str
    decided_by: str | None

    def __init__(self, request_id: str, status: str, decided_by: str | None) -> None:
        who = f" by {decided_by}" if decided_by else ""
        super().__init__(
            f"Request {request_id} is already {status}{who}; a request takes exactly one "
            "decision. The first decision stands and nothing was changed.",
            request_id=request_id,
            status=status,
            decided_by=decided_by,
        )


class RequestExpired(StateConflict):
    """A decision sent after the request's deadline."""

    request_id: str
    expires_at: str

    def __init__(self, request_id: str, expires_at: str) -> None:
        super().__init__(
            f"Request {request_id} expired at {expires_at} and takes no decision now; its "
            "expiry outcome applies when the run resumes. Ask the agent to propose the "
            "action again if it is still wanted.",
            request_id=request_id,
            expires_at=expires_at,
        )


class RequestNotDecided(StateConflict):
    """Resuming past a request that has no decision yet."""

    request_id: str
    status: str

    def __init__(self, request_id: str, status: str) -> None:
        super().__init__(
            f"Request {request_id} is {status}, not decided; decide it before marking it resumed.",
            request_id=request_id,
            status=status,
        )


class RequestIdConflict(StateConflict):
    """The same request id raised again for different arguments."""

    request_id: str

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"Request {request_id} already exists with other arguments or another run. "
            "Request ids come from run id + call id: give each call its own id. The stored "
            "request is unchanged.",
            request_id=request_id,
        )


class RunNotPaused(StateConflict):
    """Resuming a run that is not waiting on a human."""

    run_id: str
    status: str

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(
            f"Run {run_id} is {status}, not paused, so there is nothing to resume. Start a "
            "new run instead.",
            run_id=run_id,
            status=status,
        )


class RunExists(StateConflict):
    """Starting a run under an id that is already stored."""

    run_id: str
    status: str

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(
            f"Run {run_id} already exists ({status}). Resume it with resume({run_id!r}) or "
            "start a new run with a fresh id; the stored run is unchanged.",
            run_id=run_id,
            status=status,
        )


class RunNotFailed(StateConflict):
    """Retrying a run that did not fail (and is not abandoned mid-pass)."""

    run_id: str
    status: str

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(
            f"Run {run_id} is {status}; only a failed run (or one whose process died "
            "mid-pass) can be retried. Resume a paused run with resume(); the stored run "
            "is unchanged.",
            run_id=run_id,
            status=status,
        )


class RunChanged(StateConflict):
    """A run saved by another process since this one loaded it."""

    run_id: str
    expected: int
    found: int

    def __init__(self, run_id: str, expected: int, found: int) -> None:
        super().__init__(
            f"Run {run_id} is at version {found}, not {expected}: another process resumed "
            "or saved it since it was loaded. Reload the run before changing it; the stored "
            "run is unchanged.",
            run_id=run_id,
            expected=expected,
            found=found,
        )


class RunBusy(StateConflict):
    """Another process (or another resume in this one) holds the run's lease."""

    run_id: str
    holder: str
    until: str

    def __init__(self, run_id: str, holder: str, until: str) -> None:
        super().__init__(
            f"Run {run_id} is being worked on by {holder} (its lease runs until {until}), "
            "so this resume did nothing. Wait for it to finish, or pass wait=... to block "
            "until the lease is free; the stored run is unchanged.",
            run_id=run_id,
            holder=holder,
            until=until,
        )


class LeaseLost(StateConflict):
    """This holder's lease on the run ended and another holder took the run over."""

    run_id: str
    holder: str
    fence: int

    def __init__(self, run_id: str, holder: str, fence: int) -> None:
        super().__init__(
            f"{holder} no longer holds run {run_id} (its lease {fence} expired and the run "
            "was taken over), so nothing more was written by it. The run is in the new "
            "holder's hands; any call this holder had started is reported as an unknown "
            "outcome there, never run twice.",
            run_id=run_id,
            holder=holder,
            fence=fence,
        )


class CallNotClaimed(StateConflict):
    """Recording the outcome of a call that was never claimed in the ledger."""

    run_id: str
    call_id: str

    def __init__(self, run_id: str, call_id: str) -> None:
        super().__init__(
            f"Call {call_id} of run {run_id} has no claim in the ledger, so there is no "
            "outcome to record: claim it (claim_call) before it runs. Nothing was written.",
            run_id=run_id,
            call_id=call_id,
        )


class CallRefused(StateConflict):
    """A reviewed call would run as something other than what its reviewer saw."""

    run_id: str
    call_id: str
    request_id: str | None
    problem: str
    tool: str

    def __init__(
        self, run_id: str, call_id: str, request_id: str | None, problem: str, tool: str = ""
    ) -> None:
        super().__init__(
            f"Call {call_id} of run {run_id} was not run: {problem}. Someone changed the "
            "stored run or request after it was reviewed. The request is left as it is, the "
            "run is marked failed with its snapshot kept for inspection, and a 'refused' "
            "audit event names the mismatch.",
            run_id=run_id,
            call_id=call_id,
            request_id=request_id,
            problem=problem,
            tool=tool,
        )


class NotFound(HITLError, LookupError):
    """Nothing is stored under the id given."""


class UnknownRequest(NotFound):
    """No approval request has this id."""

    request_id: str

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"No approval request {request_id!r} in this store. List the pending requests "
            "(`store.list_requests()`) to find the right id, and check that you opened the "
            "right store.",
            request_id=request_id,
        )


class UnknownRun(NotFound):
    """No run has this id."""

    run_id: str

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"No paused run {run_id!r} in this store. Check the run id and that this "
            "process opened the same store URL as the one that paused it.",
            run_id=run_id,
        )


class StoreError(HITLError):
    """The durable store failed or cannot be used."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or is restarting: a transient failure, worth retrying.

    A run whose pass hits it is left as it was stored (still resumable), never marked failed.
    """


class UnsupportedStoreURL(StoreError, ValueError):
    """A store URL with a scheme no store handles."""

    url: str

    def __init__(self, url: str, schemes: Iterable[str]) -> None:
        super().__init__(
            f"No store handles {url!r}. Use one of: {_names(schemes)} "
            "(for example sqlite:///approvals.db).",
            url=url,
        )


class SchemaVersionMismatch(StoreError):
    """The store's schema is newer than this version of hitl-kit understands."""

    where: str
    found: int
    supported: int

    def __init__(self, where: str, found: int, supported: int) -> None:
        super().__init__(
            f"{where} has schema version {found}, but this hitl-kit supports up to "
            f"{supported}. Upgrade hitl-kit to open it; the data was left untouched.",
            where=where,
            found=found,
            supported=supported,
        )


class AccessDenied(HITLError):
    """The caller may not do this; nothing was changed."""


class NotAuthenticated(AccessDenied):
    """No credentials, or credentials no reviewer holds."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"{reason}. Send 'Authorization: Bearer <token>' with a token from the "
            f"reviewers file. {_UNTOUCHED}"
        )


class NotAuthorized(AccessDenied):
    """An authenticated reviewer whom the policy does not let decide this tool."""

    reviewer: str
    request_id: str
    tool: str

    def __init__(
        self, reviewer: str, request_id: str, tool: str, who: str, *, message: str | None = None
    ) -> None:
        super().__init__(
            message
            or f"Reviewer {reviewer!r} may not decide {tool} calls (request {request_id}); "
            f"the policy allows {who}. Ask one of them to decide. {_UNTOUCHED}",
            reviewer=reviewer,
            request_id=request_id,
            tool=tool,
        )


class SelfApproval(NotAuthorized):
    """The run's requester tried to approve (or edit) their own request."""

    def __init__(self, reviewer: str, request_id: str, tool: str) -> None:
        super().__init__(
            reviewer,
            request_id,
            tool,
            "",
            message=f"Reviewer {reviewer!r} started this run and cannot approve its own "
            f"{tool} call (request {request_id}); another reviewer must approve or edit it. "
            f"Rejecting it is allowed. {_UNTOUCHED}",
        )


class MissingDependency(HITLError, ImportError):
    """An optional dependency is not installed."""

    package: str
    extra: str

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed. Install it with: pip install 'hitl-kit[{extra}]'",
            package=package,
            extra=extra,
        )


class AdapterError(HITLError):
    """A framework adapter failed outside the decision contract."""
