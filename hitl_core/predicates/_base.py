"""The predicate base and the predicates that read no argument: tool names, constants, logic.

`Predicate` carries what every predicate shares (the ``&``/``|``/``~`` operators, the refusal
of ``and``/``or``/``not``, the data form), so it lives with the groups those operators build,
`AllOf`, `AnyOf` and `Not`, and with the reason-formatting helpers every predicate uses. The
predicates about argument and context values build on this in `hitl_core.predicates._values`;
the union of all predicates, which the groups hold, is defined in `hitl_core.predicates`,
which also resolves the groups' forward references to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hitl_core.errors import PredicateTypeError
from hitl_core.policy_files import problems

if TYPE_CHECKING:
    from hitl_core.predicates import AnyPredicate


Arguments: TypeAlias = Mapping[str, Any]
"""A call's arguments as the agent sent them (anything else evaluates as UNKNOWN)."""
Context: TypeAlias = Mapping[str, Any] | None
"""Facts about the run that `ctx` references read, e.g. ``{"user": {"role": "intern"}}``."""
Scalar: TypeAlias = bool | int | float | str | None
"""A constant a predicate may hold: what JSON and TOML can write as a single value."""

_VERDICTS = {True: "always requires approval", False: "never requires approval"}
_P = TypeVar("_P", bound="Predicate")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A predicate's answer for one call, and the reason a reviewer is shown."""

    value: bool | None
    """True or False, or None when it cannot be known (a missing or mistyped argument)."""
    reason: str
    """The facts behind the answer, e.g. ``"amount 4200 > 1000"``."""


def _kind(value: object) -> str:
    """How a value compares: int and float are both ``number``, bool is not."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "str" if isinstance(value, str) else type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return _show_all(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _show_all(values: Iterable[object], brackets: str = "[]") -> str:
    """Up to five values, then an ellipsis: enough for a reviewer, short enough to read."""
    items = list(values)
    shown = [_show(v) if brackets == "[]" else str(v) for v in items[:5]]
    return brackets[0] + ", ".join(shown + ["…"] * (len(items) > 5)) + brackets[1]


class Predicate(BaseModel):
    """Base of every predicate; combine with ``&``, ``|`` and ``~``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    """Which predicate this is; the tag in its data form."""
    _parenthesized: ClassVar[bool] = False
    """Whether `str` of it needs parentheses as an operand of ``&``, ``|`` or ``~``."""

    def evaluate(self, tool: str, args: Arguments, context: Context = None) -> Outcome:
        """Whether this call matches. Never raises on bad input: that is an UNKNOWN outcome.

        Args:
            tool: The tool the agent called.
            args: Its arguments; anything but a mapping makes argument checks UNKNOWN.
            context: Facts about the run (user, tenant) that `ctx` references read.
        """
        raise NotImplementedError

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data that `predicate_from_data` turns back into an equal predicate."""
        return self.model_dump(mode="json")

    def __and__(self, other: Predicate) -> AllOf:
        if not isinstance(other, Predicate):
            return NotImplemented
        return AllOf(of=(*_flat(self, AllOf), *_flat(other, AllOf)))

    def __or__(self, other: Predicate) -> AnyOf:
        if not isinstance(other, Predicate):
            return NotImplemented
        return AnyOf(of=(*_flat(self, AnyOf), *_flat(other, AnyOf)))

    def __invert__(self) -> Not:
        return Not(of=self)

    def __bool__(self) -> NoReturn:
        # `a < arg("x") < b` and `p and q` would silently drop a predicate; refuse them.
        raise TypeError(
            f"{self} has no truth value; combine predicates with &, | and ~, not and/or/not, "
            "and write a range as (arg('x') > a) & (arg('x') < b)"
        )


def _flat(predicate: Predicate, group: type[_Group]) -> tuple[Predicate, ...]:
    return predicate.of if isinstance(predicate, group) else (predicate,)


def _operand(predicate: Predicate) -> str:
    """`str` of a predicate, in parentheses where ``&``/``|``/``~`` would bind tighter."""
    text = str(predicate)
    return f"({text})" if predicate._parenthesized else text


class ToolIn(Predicate):
    """``tool_in({"delete_rows"})``: the call is to one of these tools."""

    kind: Literal["tool_in"] = "tool_in"
    tools: tuple[str, ...]
    """The tool names, kept sorted and unique so equal sets give equal predicates."""

    @field_validator("tools")
    @classmethod
    def _sorted(cls, tools: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(tools)))

    def evaluate(self, tool: str, args: Arguments, context: Context = None) -> Outcome:
        hit = tool in self.tools
        where = "in" if hit else "not in"
        return Outcome(hit, f"tool {tool} {where} {_show_all(self.tools, '{}')}")

    def __str__(self) -> str:
        return f"tool_in({list(self.tools)!r})"


class Const(Predicate):
    """`always` or `never`: the same answer for every call."""

    kind: Literal["const"] = "const"
    value: bool = Field(strict=True)
    """True for `always`, False for `never`."""

    def evaluate(self, tool: str, args: Arguments, context: Context = None) -> Outcome:
        return Outcome(self.value, _VERDICTS[self.value])

    def __str__(self) -> str:
        return "always()" if self.value else "never()"


class _Group(Predicate):
    """All-of or any-of: parts evaluated in order until one decides the answer."""

    of: tuple[AnyPredicate, ...] = Field(min_length=1)
    """The parts, in order; ``p & q & r`` is one group of three, not nested pairs."""
    _decisive: ClassVar[bool]
    _symbol: ClassVar[str]
    _parenthesized = True

    def evaluate(self, tool: str, args: Arguments, context: Context = None) -> Outcome:
        known: list[str] = []
        unknown: list[str] = []
        for part in self.of:
            outcome = part.evaluate(tool, args, context)
            if outcome.value is self._decisive:
                return outcome
            (known if outcome.value is not None else unknown).append(outcome.reason)
        if unknown:  # one bad argument can leave several parts UNKNOWN; say it once
            return Outcome(None, " and ".join(dict.fromkeys(unknown)))
        return Outcome(not self._decisive, " and ".join(dict.fromkeys(known)))

    def __str__(self) -> str:
        return f" {self._symbol} ".join(_operand(p) for p in self.of)


class AllOf(_Group):
    """``p & q``: every part holds. False wins over UNKNOWN, UNKNOWN over True."""

    kind: Literal["all"] = "all"
    _decisive = False
    _symbol = "&"


class AnyOf(_Group):
    """``p | q``: some part holds, and its reason is given. True wins over UNKNOWN."""

    kind: Literal["any"] = "any"
    _decisive = True
    _symbol = "|"


class Not(Predicate):
    """``~p``: the opposite answer, with the same facts as reason; UNKNOWN stays UNKNOWN."""

    kind: Literal["not"] = "not"
    of: AnyPredicate
    """The negated predicate."""

    def evaluate(self, tool: str, args: Arguments, context: Context = None) -> Outcome:
        if isinstance(self.of, Const):  # its reason is a verdict, not a fact: flip that too
            return Outcome(not self.of.value, _VERDICTS[not self.of.value])
        outcome = self.of.evaluate(tool, args, context)
        return outcome if outcome.value is None else Outcome(not outcome.value, outcome.reason)

    def __str__(self) -> str:
        return f"~{_operand(self.of)}"


def _build(model: type[_P], **fields: Any) -> _P:
    """Construct a predicate, reporting a bad constant as `PredicateTypeError` at once."""
    try:
        return model(**fields)
    except ValidationError as error:
        for item in error.errors():
            cause = (item.get("ctx") or {}).get("error")
            if isinstance(cause, PredicateTypeError):
                raise cause from None
        raise PredicateTypeError("; ".join(problems(error, fields))) from None


def tool_in(tools: Iterable[str]) -> ToolIn:
    """Holds when the called tool is one of `tools`."""
    if isinstance(tools, str):
        raise PredicateTypeError(f"tool_in takes a collection of tool names, got {tools!r}")
    return _build(ToolIn, tools=tools)


def always() -> Const:
    """Every call needs approval."""
    return Const(value=True)


def never() -> Const:
    """No call needs approval."""
    return Const(value=False)
