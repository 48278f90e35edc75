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

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, NoReturn, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from hitl_core.errors import InvalidPolicy, PredicateTypeError
from hitl_core.policy_files import problems

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

Arguments: TypeAlias = Mapping[str, Any]
"""A call's arguments as the agent sent them (anything else evaluates as UNKNOWN)."""
Context: TypeAlias = Mapping[str, Any] | None
"""Facts about the run that `ctx` references read, e.g. ``{"user": {"role": "intern"}}``."""
Scalar: TypeAlias = bool | int | float | str | None
"""A constant a predicate may hold: what JSON and TOML can write as a single value."""

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
_KIND_NAMES = {"number": "a number", "str": "a string", "bool": "a boolean", "NoneType": "null"}
_NUMERIC = re.compile(r"\s*[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")
_VERDICTS = {True: "always requires approval", False: "never requires approval"}
_MISSING: Any = object()
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


def _same(a: object, b: object) -> bool:
    return _kind(a) == _kind(b) and a == b


def _check_scalar(value: Any) -> Any:
    if _kind(value) not in _KIND_NAMES:
        raise PredicateTypeError(f"a constant must be a number, string, boolean or null: {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise PredicateTypeError(f"a constant must be a finite number, got {value!r}")
    return value


def _check_path(path: Any) -> Any:
    if not isinstance(path, str) or not all(path.split(".")):
        raise PredicateTypeError(f"a path is keys joined by dots, like 'payee.country': {path!r}")
    return path


def _shorthand(value: Any) -> Any:
    """``"always"``/``"never"`` stand for constant predicates wherever one is expected."""
    if isinstance(value, str):
        if value in ("always", "never"):
            return {"kind": "const", "value": value == "always"}
        raise ValueError(f"unknown predicate {value!r}; use 'always', 'never' or a table")
    return value


_Const = Annotated[Scalar, BeforeValidator(_check_scalar)]


class Predicate(BaseModel):
    """Base of every predicate; combine with ``&``, ``|`` and ``~``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    """Which predicate this is; the tag in its data form."""

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
    return f"({text})" if isinstance(predicate, Compare | _Group) else text


class _Reference(Predicate):
    """A predicate about one value, an argument or a context entry, found by dotted path."""

    source: Literal["arg", "ctx"]
    """``arg`` reads the call's arguments; ``ctx`` reads the context passed to `evaluate`."""
    path: Annotated[str, BeforeValidator(_check_path)]
    """Keys joined by dots; ``payee.country`` is ``args["payee"]["country"]``."""

    @property
    def _label(self) -> str:
        """How the value is named in reasons: ``amount``, ``context.user.role``."""
        return self.path if self.source == "arg" else f"context.{self.path}"

    def evaluate(self, tool: str, args: Arguments, context: Context = None) -> Outcome:
        node: Any = args if self.source == "arg" else context
        for part in self.path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return self._absent(args)
            node = node[part]
        return self._test(node)

    def _test(self, value: Any) -> Outcome:
        """The outcome for the value found at the path."""
        raise NotImplementedError

    def _absent(self, args: object) -> Outcome:
        """The outcome when there is no value at the path: UNKNOWN."""
        if self.source == "arg" and not isinstance(args, Mapping):
            return Outcome(None, f"arguments are {type(args).__name__} {_show(args)}, not a dict")
        return Outcome(None, f"{self._label} is missing")

    def _mistyped(self, value: object, wanted: str) -> Outcome:
        return Outcome(
            None, f"{self._label} is {type(value).__name__} {_show(value)}, not {wanted}"
        )

    def _ref(self) -> str:
        return f"{self.source}({self.path!r})"


class Compare(_Reference):
    """``arg("amount") > 1000``: a value against a constant."""

    kind: Literal["compare"] = "compare"
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    """``>``, ``>=``, ``<``, ``<=`` (numbers or strings), ``==`` or ``!=`` (any constant)."""
    value: _Const
    """The constant; the referenced value must be of the same kind (int and float mix)."""

    @model_validator(mode="after")
    def _orderable(self) -> Compare:
        if self.op in ("==", "!="):
            return self
        if _kind(self.value) not in ("number", "str"):
            raise PredicateTypeError(
                f"{self.op} needs a number or a string to compare with, got {self.value!r}; "
                "write the threshold as a number, e.g. arg('amount') > 1000"
            )
        if isinstance(self.value, str) and _NUMERIC.fullmatch(self.value):
            # A quoted number would order as text and leave every numeric argument UNKNOWN.
            raise PredicateTypeError(
                f"{self.op} {self.value!r} compares with text that looks like a number; "
                f"write it unquoted ({self.value.strip()}) to compare numbers"
            )
        return self

    def _test(self, value: Any) -> Outcome:
        wanted = _kind(self.value)
        # A null constant asks "is it null?"; any other kind must match (NaN matches nothing).
        if wanted != "NoneType" and (_kind(value) != wanted or value != value):
            return self._mistyped(value, _KIND_NAMES[wanted])
        result = _OPS[self.op](value, self.value)
        op = self.op if result else _NEGATED[self.op]
        return Outcome(result, f"{self._label} {_show(value)} {op} {_show(self.value)}")

    def __str__(self) -> str:
        return f"{self._ref()} {self.op} {self.value!r}"


class Member(_Reference):
    """``arg("recipient").in_([...])`` or ``.not_in([...])``: membership in a list."""

    kind: Literal["member"] = "member"
    values: tuple[_Const, ...]
    """The list; a value of a kind none of these have is UNKNOWN, not simply absent."""
    negate: bool = Field(default=False, strict=True)
    """True for ``not_in``: the predicate holds when the value is absent from the list."""

    def _test(self, value: Any) -> Outcome:
        kinds = {_kind(v) for v in self.values}
        if kinds and _kind(value) not in kinds:
            return self._mistyped(value, " or ".join(sorted(_KIND_NAMES[k] for k in kinds)))
        found = any(_same(value, v) for v in self.values)
        where = "in" if found else "not in"
        reason = f"{self._label} {_show(value)} {where} {_show_all(self.values)}"
        return Outcome(found != self.negate, reason)

    def __str__(self) -> str:
        return f"{self._ref()}.{'not_in' if self.negate else 'in_'}({list(self.values)!r})"


class Exists(_Reference):
    """``arg("cc").exists()``: the value is present (even as null); absent is False."""

    kind: Literal["exists"] = "exists"

    def _absent(self, args: object) -> Outcome:
        unknown = super()._absent(args)
        if self.source == "arg" and not isinstance(args, Mapping):
            return unknown  # no arguments to look in: still UNKNOWN
        return Outcome(False, unknown.reason)

    def _test(self, value: Any) -> Outcome:
        return Outcome(True, f"{self._label} is present")

    def __str__(self) -> str:
        return f"{self._ref()}.exists()"


class Matches(_Reference):
    """``arg("account").matches(r"CH\\d+")``: the whole string matches a regular expression."""

    kind: Literal["matches"] = "matches"
    pattern: str
    """A Python regular expression, matched against the whole value (`re.fullmatch`)."""
    _regex: re.Pattern[str] = PrivateAttr()

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise PredicateTypeError(f"{pattern!r} is not a regular expression ({error})") from None
        return pattern

    def model_post_init(self, context: Any, /) -> None:
        self._regex = re.compile(self.pattern)

    def _test(self, value: Any) -> Outcome:
        if not isinstance(value, str):
            return self._mistyped(value, "a string")
        hit = self._regex.fullmatch(value) is not None
        verb = "matches" if hit else "does not match"
        return Outcome(hit, f"{self._label} {_show(value)} {verb} {self.pattern!r}")

    def __str__(self) -> str:
        return f"{self._ref()}.matches({self.pattern!r})"


class Contains(_Reference):
    """``arg("tags").contains("prod")``: a list holds the value, or a string the substring."""

    kind: Literal["contains"] = "contains"
    value: _Const
    """The element looked for; for a string value it must itself be a string."""

    def _test(self, value: Any) -> Outcome:
        if isinstance(value, list | tuple):
            hit = any(_same(item, self.value) for item in value)
        elif isinstance(value, str) and isinstance(self.value, str):
            hit = self.value in value
        else:
            return self._mistyped(value, "a list" + " or a string" * isinstance(self.value, str))
        verb = "contains" if hit else "does not contain"
        return Outcome(hit, f"{self._label} {_show(value)} {verb} {_show(self.value)}")

    def __str__(self) -> str:
        return f"{self._ref()}.contains({self.value!r})"


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


AnyPredicate: TypeAlias = Annotated[
    Compare | Member | Exists | Matches | Contains | ToolIn | Const | AllOf | AnyOf | Not,
    Field(discriminator="kind"),
    BeforeValidator(_shorthand),
]
"""Any predicate, told apart by ``kind``; the strings ``"always"``/``"never"`` also load."""

for _model in (_Group, AllOf, AnyOf, Not):
    _model.model_rebuild()
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


class Ref:
    """An argument or context value by path; comparing it builds a predicate.

    ``arg("amount") > 1000`` is a `Compare`, and so is ``arg("x") == 1``, which is why a
    `Ref` is not hashable.
    """

    __slots__ = ("path", "source")
    __hash__: ClassVar[None]  # type: ignore[assignment]
    source: Literal["arg", "ctx"]
    """``arg`` for the call's arguments, ``ctx`` for the context."""
    path: str
    """Keys joined by dots."""

    def __init__(self, source: Literal["arg", "ctx"], path: str) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "path", _check_path(path))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{self!r} is immutable")

    def __repr__(self) -> str:
        return f"{self.source}({self.path!r})"

    def _compare(self, op: str, value: object) -> Compare:
        return _build(Compare, source=self.source, path=self.path, op=op, value=value)

    def __gt__(self, value: object) -> Compare:
        return self._compare(">", value)

    def __ge__(self, value: object) -> Compare:
        return self._compare(">=", value)

    def __lt__(self, value: object) -> Compare:
        return self._compare("<", value)

    def __le__(self, value: object) -> Compare:
        return self._compare("<=", value)

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("==", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return self._compare("!=", value)

    def in_(self, values: Iterable[Scalar]) -> Member:
        """Holds when the value is one of `values`."""
        return self._member(values, negate=False)

    def not_in(self, values: Iterable[Scalar]) -> Member:
        """Holds when the value is none of `values`: an allow-list, unlisted needs approval."""
        return self._member(values, negate=True)

    def _member(self, values: Iterable[Scalar], negate: bool) -> Member:
        if isinstance(values, str | bytes | Mapping):
            raise PredicateTypeError(f"in_/not_in take a list of values, got {values!r}")
        return _build(Member, source=self.source, path=self.path, values=values, negate=negate)

    def exists(self) -> Exists:
        """Holds when the value is present, even as null."""
        return _build(Exists, source=self.source, path=self.path)

    def matches(self, pattern: str) -> Matches:
        """Holds when the value is a string the regular expression matches in full."""
        return _build(Matches, source=self.source, path=self.path, pattern=pattern)

    def contains(self, value: Scalar) -> Contains:
        """Holds when the list value has `value` as an element, or the string value as a part."""
        return _build(Contains, source=self.source, path=self.path, value=value)


def arg(path: str) -> Ref:
    """The call's argument at `path` (dots reach into nested objects: ``"payee.country"``)."""
    return Ref("arg", path)


def ctx(path: str) -> Ref:
    """The context value at `path`, e.g. ``ctx("user.role")``; no context means missing."""
    return Ref("ctx", path)


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
