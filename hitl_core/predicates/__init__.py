"""Threshold predicates: gate a tool call on what it would do, not merely on its name.

A predicate looks at one proposed call (tool name, arguments, optional context) and says
whether it needs a human, with a reason the reviewer reads::

    large = arg("amount") > 1000
    untrusted = arg("recipient").not_in(["a@b.com", "c@d.com"])
    (large | untrusted).evaluate("send_payment", {"amount": 4200, "recipient": "a@b.com"})
    # Outcome(value=True, reason="amount 4200 > 1000")

Logic is three-valued (Kleene): a missing argument, or one of the wrong type for the
comparison, makes the answer UNKNOWN (``None``) rather than False, so a policy can fail
closed. ``bool`` is never a number here, because ``True > 0`` is almost always a bug in
the call. Evaluation never raises on bad input and runs no validation: it is on the path
of every tool call. Predicates are frozen Pydantic models tagged by ``kind``, so they load
from and dump to plain data (`predicate_from_data`, `Predicate.to_data`) losslessly.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError

from hitl_core.errors import InvalidPolicy
from hitl_core.policy_files import problems
from hitl_core.predicates._base import AllOf as AllOf
from hitl_core.predicates._base import AnyOf as AnyOf
from hitl_core.predicates._base import Arguments as Arguments
from hitl_core.predicates._base import Const as Const
from hitl_core.predicates._base import Context as Context
from hitl_core.predicates._base import Not as Not
from hitl_core.predicates._base import Outcome as Outcome
from hitl_core.predicates._base import Predicate as Predicate
from hitl_core.predicates._base import Scalar as Scalar
from hitl_core.predicates._base import ToolIn as ToolIn
from hitl_core.predicates._base import _Group
from hitl_core.predicates._base import always as always
from hitl_core.predicates._base import never as never
from hitl_core.predicates._base import tool_in as tool_in
from hitl_core.predicates._values import Compare as Compare
from hitl_core.predicates._values import Contains as Contains
from hitl_core.predicates._values import Exists as Exists
from hitl_core.predicates._values import Matches as Matches
from hitl_core.predicates._values import Member as Member
from hitl_core.predicates._values import Ref as Ref
from hitl_core.predicates._values import arg as arg
from hitl_core.predicates._values import ctx as ctx

__all__ = [
    "AllOf",
    "AnyOf",
    "AnyPredicate",
    "Arguments",
    "Compare",
    "Const",
    "Contains",
    "Context",
    "Exists",
    "Matches",
    "Member",
    "Not",
    "Outcome",
    "Predicate",
    "Ref",
    "Scalar",
    "ToolIn",
    "always",
    "arg",
    "ctx",
    "never",
    "predicate_from_data",
    "tool_in",
]


def _shorthand(value: Any) -> Any:
    """``"always"``/``"never"`` stand for constant predicates wherever one is expected."""
    if isinstance(value, str):
        if value in ("always", "never"):
            return {"kind": "const", "value": value == "always"}
        raise ValueError(f"unknown predicate {value!r}; use 'always', 'never' or a table")
    return value


AnyPredicate: TypeAlias = Annotated[
    Compare | Member | Exists | Matches | Contains | ToolIn | Const | AllOf | AnyOf | Not,
    Field(discriminator="kind"),
    BeforeValidator(_shorthand),
]
"""Any predicate, told apart by ``kind``; the strings ``"always"``/``"never"`` also load."""

# The groups and `Not` hold `AnyPredicate`, which names predicates from both submodules and so
# can only be defined here; resolve their forward references to it now, before any is built.
for _model in (_Group, AllOf, AnyOf, Not):
    _model.model_rebuild(_types_namespace={"AnyPredicate": AnyPredicate})
_adapter: TypeAdapter[AnyPredicate] = TypeAdapter(AnyPredicate)


def predicate_from_data(data: Any) -> Predicate:
    """Load a predicate from the data `Predicate.to_data` writes (or ``"always"``/``"never"``).

    Raises:
        InvalidPolicy: the data is not a predicate; the message names where and why.
    """
    if isinstance(data, Predicate):
        return data
    try:
        return _adapter.validate_python(data)
    except ValidationError as error:
        raise InvalidPolicy("; ".join(problems(error, data)), "predicate") from None
