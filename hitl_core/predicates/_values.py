"""Predicates about one value, an argument of the call or an entry of the context.

``arg("amount") > 1000`` reads a value by dotted path and tests it: `Compare`, `Member`,
`Exists`, `Matches` and `Contains` share the path lookup and the UNKNOWN answers for a
missing or mistyped value in `_Reference`, and `Ref` (made by `arg` and `ctx`) is the
builder whose operators and methods construct them. They are kept apart from
`hitl_core.predicates._base` because they hold the typed constants and all the
comparison rules (what kinds compare, which strings look like numbers), while the base
needs none of that.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, NoReturn

from pydantic import BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from hitl_core.errors import PredicateTypeError
from hitl_core.predicates._base import (
    Arguments,
    Context,
    Outcome,
    Predicate,
    Scalar,
    _build,
    _kind,
    _show,
    _show_all,
)

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
_KIND_NAMES = {"number": "a number", "str": "a string", "bool": "a boolean", "NoneType": "null"}
_NUMERIC = re.compile(r"\s*[-+]?(\d[\d_]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")


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


_Const = Annotated[Scalar, BeforeValidator(_check_scalar)]


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
    _parenthesized = True

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
