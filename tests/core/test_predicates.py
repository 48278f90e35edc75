"""Threshold predicates agree with plain Python, follow Kleene logic, and round-trip as data."""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.errors import InvalidPolicy, PredicateTypeError
from hitl_core.predicates import (
    AllOf,
    AnyOf,
    Compare,
    Not,
    Outcome,
    Predicate,
    Ref,
    always,
    arg,
    ctx,
    never,
    predicate_from_data,
    tool_in,
)

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
TOOLS = ["send_payment", "delete_rows", "read_file"]
PATHS = ["amount", "payee.country", "tags", "n"]
PATTERNS = ["a+", "[a-c]*", "x.*y", r"\d{2,}"]
MISSING = object()

# --- strategies -------------------------------------------------------------------------

numbers = st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
words = st.text(alphabet="abcxy0123", max_size=4)
scalars = st.none() | st.booleans() | numbers | words
json_values = st.recursive(
    scalars | st.floats(),  # NaN and infinities can reach a predicate through the arguments
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["country", "amount"]), inner, max_size=2)
    ),
    max_leaves=6,
)
arguments = st.dictionaries(st.sampled_from(["amount", "payee", "tags", "n"]), json_values)
contexts = st.none() | st.fixed_dictionaries({}, optional={"amount": json_values, "n": json_values})
refs = st.builds(Ref, st.sampled_from(["arg", "ctx"]), st.sampled_from(PATHS))


def _not_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


def _compare(ref: Ref, op: str, value: Any) -> Predicate:
    return cast(Predicate, OPS[op](ref, value))


compares = st.one_of(
    st.builds(_compare, refs, st.sampled_from([">", ">=", "<", "<="]), numbers),
    st.builds(_compare, refs, st.sampled_from([">", "<="]), words.filter(_not_numeric)),
    st.builds(_compare, refs, st.sampled_from(["==", "!="]), scalars),
)
leaves: st.SearchStrategy[Predicate] = st.one_of(
    compares,
    st.builds(lambda r, vs: r.in_(vs), refs, st.lists(scalars, max_size=7)),
    st.builds(lambda r, vs: r.not_in(vs), refs, st.lists(scalars, max_size=7)),
    st.builds(lambda r: r.exists(), refs),
    st.builds(lambda r, p: r.matches(p), refs, st.sampled_from(PATTERNS)),
    st.builds(lambda r, v: r.contains(v), refs, scalars),
    st.builds(tool_in, st.sets(st.sampled_from(TOOLS))),
    st.sampled_from([always(), never()]),
)


def _combined(children: st.SearchStrategy[Predicate]) -> st.SearchStrategy[Predicate]:
    """Trees built the way users build them: with &, | and ~."""
    several = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        several.map(lambda ps: functools.reduce(operator.and_, ps)),
        several.map(lambda ps: functools.reduce(operator.or_, ps)),
        children.map(operator.invert),
    )


def _nested(children: st.SearchStrategy[Predicate]) -> st.SearchStrategy[Predicate]:
    """Trees as data may hold them: unflattened groups of one or more parts."""
    parts = st.lists(children, min_size=1, max_size=3).map(tuple)
    return st.one_of(
        parts.map(lambda of: AllOf(of=of)),
        parts.map(lambda of: AnyOf(of=of)),
        children.map(lambda of: Not(of=of)),
    )


operator_trees = st.recursive(leaves, _combined, max_leaves=8)
trees = st.recursive(leaves, lambda c: _combined(c) | _nested(c), max_leaves=8)

# --- a reference evaluator, written from the data format --------------------------------


def _kind(value: Any) -> str:
    if type(value) is bool:
        return "bool"
    if type(value) in (int, float):
        return "number"
    return type(value).__name__


def _lookup(data: Mapping[str, Any], args: Any, context: Any) -> Any:
    node = args if data["source"] == "arg" else context
    for key in data["path"].split("."):
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def reference(data: Mapping[str, Any], tool: str, args: Any, context: Any) -> bool | None:
    """What a predicate's data means, evaluated the plain way (Kleene for the groups)."""
    kind = data["kind"]
    if kind == "const":
        return bool(data["value"])
    if kind == "tool_in":
        return tool in data["tools"]
    if kind in ("all", "any", "not"):
        parts = data["of"] if kind != "not" else [data["of"]]
        values = [reference(part, tool, args, context) for part in parts]
        if kind == "not":
            return None if values[0] is None else not values[0]
        decisive: bool = kind == "any"
        if any(v is decisive for v in values):
            return decisive
        return None if any(v is None for v in values) else not decisive
    if kind == "exists" and not (data["source"] == "ctx" or isinstance(args, dict)):
        return None
    value = _lookup(data, args, context)
    if kind == "exists":
        return value is not MISSING
    if value is MISSING:
        return None
    if kind == "compare":
        constant = data["value"]
        if constant is not None and (
            _kind(value) != _kind(constant) or (isinstance(value, float) and math.isnan(value))
        ):
            return None
        return bool(OPS[data["op"]](value, constant))
    if kind == "member":
        kinds = {_kind(v) for v in data["values"]}
        if kinds and _kind(value) not in kinds:
            return None
        found = any(_kind(value) == _kind(v) and value == v for v in data["values"])
        return found != bool(data["negate"])
    if kind == "matches":
        return re.fullmatch(data["pattern"], value) is not None if type(value) is str else None
    assert kind == "contains", kind
    constant = data["value"]
    if type(value) is list:
        return any(_kind(item) == _kind(constant) and item == constant for item in value)
    if type(value) is str and type(constant) is str:
        return constant in value
    return None


# --- agreement with plain Python --------------------------------------------------------


@given(amount=json_values | st.just(MISSING), op=st.sampled_from(list(OPS)), threshold=numbers)
def test_numeric_comparison_agrees_with_python(amount: Any, op: str, threshold: Any) -> None:
    """Numbers (not bools) compare as Python does; anything else, or nothing, is UNKNOWN."""
    args = {} if amount is MISSING else {"amount": amount}
    outcome = _compare(arg("amount"), op, threshold).evaluate("send_payment", args)
    is_number = type(amount) in (int, float) and not (
        isinstance(amount, float) and math.isnan(amount)
    )
    assert outcome.value == (OPS[op](amount, threshold) if is_number else None)
    assert outcome.reason


@given(country=json_values | st.just(MISSING), payee=st.booleans())
def test_dotted_paths_reach_into_nested_dicts(country: Any, payee: bool) -> None:
    """``payee.country`` reads args["payee"]["country"]; a non-dict payee means missing."""
    inner = {} if country is MISSING else {"country": country}
    args = {"payee": inner if payee else "ACME"}
    outcome = (arg("payee.country") == "CH").evaluate("send_payment", args)
    if payee and type(country) is str:
        assert outcome.value == (country == "CH")
    else:
        assert outcome.value is None
        assert outcome.reason.startswith("payee.country is ")


@given(tree=trees, tool=st.sampled_from(TOOLS), args=arguments, context=contexts)
def test_trees_agree_with_reference_kleene_evaluator(
    tree: Predicate, tool: str, args: dict[str, Any], context: dict[str, Any] | None
) -> None:
    """Every predicate tree gives the answer its data means under three-valued logic."""
    outcome = tree.evaluate(tool, args, context)
    assert outcome.value is reference(tree.to_data(), tool, args, context)
    assert isinstance(outcome.reason, str)
    assert outcome.reason


@given(p=trees, q=trees, tool=st.sampled_from(TOOLS), args=arguments)
def test_operators_are_kleene_and_or_not(p: Predicate, q: Predicate, tool: str, args: Any) -> None:
    """``&``, ``|`` and ``~`` follow the Kleene truth tables of their operands."""
    a, b = p.evaluate(tool, args).value, q.evaluate(tool, args).value
    both = (p & q).evaluate(tool, args).value
    either = (p | q).evaluate(tool, args).value
    assert both is (False if False in (a, b) else None if None in (a, b) else True)
    assert either is (True if True in (a, b) else None if None in (a, b) else False)
    assert (~p).evaluate(tool, args).value is (None if a is None else not a)


@given(tree=trees, args=st.one_of(st.lists(json_values), st.text(), st.integers(), st.none()))
def test_non_dict_arguments_never_crash(tree: Predicate, args: Any) -> None:
    """Arguments that are not a dict leave argument checks UNKNOWN and raise nothing."""
    outcome = tree.evaluate("send_payment", cast(Mapping[str, Any], args))
    assert outcome.value is reference(tree.to_data(), "send_payment", args, None)


# --- data round trip and text -----------------------------------------------------------


@given(tree=trees)
def test_data_round_trip_is_lossless(tree: Predicate) -> None:
    """to_data -> predicate_from_data gives an equal predicate and the same data again."""
    data = tree.to_data()
    assert predicate_from_data(data) == tree
    assert predicate_from_data(data).to_data() == data
    assert predicate_from_data(json.loads(json.dumps(data))) == tree


@given(tree=operator_trees)
def test_str_is_the_python_that_builds_it(tree: Predicate) -> None:
    """str(p) of an operator-built tree evaluates back to an equal predicate."""
    names = {"arg": arg, "ctx": ctx, "tool_in": tool_in, "always": always, "never": never}
    assert eval(str(tree), names) == tree


def test_operators_flatten_groups_of_the_same_kind() -> None:
    a, b, c = arg("a") > 1, arg("b") > 2, arg("c") > 3
    assert (a & b & c) == AllOf(of=(a, b, c))
    assert (a | (b | c)) == AnyOf(of=(a, b, c))
    assert (a & (b | c)).to_data()["of"][1]["kind"] == "any"
    assert str((a | b) & ~c) == "((arg('a') > 1) | (arg('b') > 2)) & ~(arg('c') > 3)"


def test_data_shape() -> None:
    predicate = (arg("amount") > 1000) & arg("recipient").not_in(["a@b.com"])
    assert predicate.to_data() == {
        "kind": "all",
        "of": [
            {"kind": "compare", "source": "arg", "path": "amount", "op": ">", "value": 1000},
            {
                "kind": "member",
                "source": "arg",
                "path": "recipient",
                "values": ["a@b.com"],
                "negate": True,
            },
        ],
    }
    assert tool_in({"b", "a"}).to_data() == {"kind": "tool_in", "tools": ["a", "b"]}
    assert (~always()).to_data() == {"kind": "not", "of": {"kind": "const", "value": True}}
    assert predicate_from_data("never") == never()


# --- reasons ----------------------------------------------------------------------------

PAYMENT = {"amount": 4200, "recipient": "evil@x.com"}
TRUSTED = [f"t{i}@b.com" for i in range(7)]


@pytest.mark.parametrize(
    ("predicate", "args", "expected"),
    [
        (arg("amount") > 1000, PAYMENT, Outcome(True, "amount 4200 > 1000")),
        (arg("amount") > 1000, {"amount": 50}, Outcome(False, "amount 50 <= 1000")),
        (arg("amount") > 1000, {}, Outcome(None, "amount is missing")),
        (
            arg("amount") > 1000,
            {"amount": "4200"},
            Outcome(None, "amount is str '4200', not a number"),
        ),
        (arg("amount") >= 10, {"amount": True}, Outcome(None, "amount is bool True, not a number")),
        (
            arg("recipient").not_in(TRUSTED),
            PAYMENT,
            Outcome(
                True,
                "recipient 'evil@x.com' not in "
                "['t0@b.com', 't1@b.com', 't2@b.com', 't3@b.com', 't4@b.com', …]",
            ),
        ),
        (
            tool_in({"delete_rows"}) & (arg("amount") > 1000),
            PAYMENT,
            Outcome(False, "tool send_payment not in {delete_rows}"),
        ),
        (
            (arg("amount") > 1000) & (arg("recipient") == "evil@x.com"),
            PAYMENT,
            Outcome(True, "amount 4200 > 1000 and recipient 'evil@x.com' == 'evil@x.com'"),
        ),
        (
            (arg("amount") < 0) | arg("recipient").matches(r".*@x\.com") | (arg("n") > 1),
            PAYMENT,
            Outcome(True, r"recipient 'evil@x.com' matches '.*@x\\.com'"),
        ),
        (~(arg("amount") > 1000), PAYMENT, Outcome(False, "amount 4200 > 1000")),
        (always(), {}, Outcome(True, "always requires approval")),
        (~always(), {}, Outcome(False, "never requires approval")),
        (ctx("user.role") == "admin", PAYMENT, Outcome(None, "context.user.role is missing")),
        (
            arg("tags").contains("prod"),
            {"tags": ["dev"]},
            Outcome(False, "tags ['dev'] does not contain 'prod'"),
        ),
    ],
)
def test_reasons(predicate: Predicate, args: dict[str, Any], expected: Outcome) -> None:
    assert predicate.evaluate("send_payment", args) == expected


def test_tool_in_reason() -> None:
    assert tool_in({"delete_rows"}).evaluate("delete_rows", {}).reason == (
        "tool delete_rows in {delete_rows}"
    )


def test_unknown_reason_names_each_bad_argument_once() -> None:
    predicate = (arg("a") > 1) & (arg("a") < 5) & (arg("b") > 1)
    outcome = predicate.evaluate("t", {"b": 3, "a": "x"})
    assert outcome == Outcome(None, "a is str 'x', not a number")
    listed = predicate.evaluate("t", cast(Mapping[str, Any], ["a"]))
    assert listed == Outcome(None, "arguments are list ['a'], not a dict")


# --- construction errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: arg("amount") > "1000",
        lambda: arg("amount") <= " -2.5e3",
        lambda: arg("amount") > True,
        lambda: arg("amount") > None,
        lambda: arg("amount") == [1000],
        lambda: arg("amount") > float("inf"),
        lambda: arg("amount") < float("nan"),
        lambda: arg("account").matches("(unclosed"),
        lambda: arg("recipient").in_("a@b.com"),
        lambda: arg("payee..country"),
        lambda: ctx(""),
        lambda: tool_in("delete_rows"),
        lambda: arg("tags").contains(cast(Any, {"a": 1})),
    ],
)
def test_unusable_constants_fail_at_construction(build: Callable[[], object]) -> None:
    with pytest.raises(PredicateTypeError, match="Invalid predicate: "):
        build()


def test_text_thresholds_order_strings_and_leave_numbers_unknown() -> None:
    """A non-numeric text constant orders strings; a numeric argument is then UNKNOWN."""
    after = arg("date") >= "2026-01-01"
    assert after.evaluate("t", {"date": "2026-03-01"}) == Outcome(
        True, "date '2026-03-01' >= '2026-01-01'"
    )
    assert after.evaluate("t", {"date": 20260301}).value is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "gt"}, "unknown predicate kind 'gt'"),
        ({"kind": "all", "of": []}, "of: "),
        ({"kind": "not", "of": {"kind": "const", "value": "yes"}}, "of.value: "),
        (
            {"kind": "compare", "source": "arg", "path": "a", "op": ">", "value": "1"},
            "looks like a number",
        ),
        ({"kind": "matches", "source": "arg", "path": "a", "pattern": "("}, "pattern: "),
        ({"kind": "exists", "source": "env", "path": "a"}, "source: "),
        ({"kind": "exists", "source": "arg", "path": "a", "extra": 1}, "extra: unexpected field"),
        ("sometimes", "unknown predicate 'sometimes'"),
        ({"path": "a"}, "no 'kind' field"),
    ],
)
def test_bad_data_raises_invalid_policy_with_path(data: Any, message: str) -> None:
    with pytest.raises(InvalidPolicy, match=re.escape(message)):
        predicate_from_data(data)


def test_predicates_refuse_truth_values() -> None:
    """``and``/``or``/chained comparisons would silently drop a predicate, so they raise."""
    with pytest.raises(TypeError, match="no truth value"):
        bool(arg("a") > 1)
    with pytest.raises(TypeError, match="no truth value"):
        1 < arg("a") < 5  # noqa: B015


def test_references_are_immutable_and_unhashable() -> None:
    ref = arg("amount")
    with pytest.raises(AttributeError):
        ref.path = "other"
    with pytest.raises(TypeError):
        hash(ref)
    assert isinstance(ref == 5, Compare)
    assert repr(ctx("user.role")) == "ctx('user.role')"
