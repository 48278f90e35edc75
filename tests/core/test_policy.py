"""Policies gate the right calls, fail closed on UNKNOWN, and load and dump losslessly."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.decisions import ALL_KINDS, Decision, DecisionKind
from hitl_core.durations import format_duration, parse_duration
from hitl_core.errors import InvalidPolicy, PredicateTypeError
from hitl_core.policy import Policy, Rule
from hitl_core.predicates import AnyOf, Predicate, always, arg, ctx, never, tool_in

PAYMENTS_TOML = """
default = "never"
expires_in = "24h"
unknown = "require"

[on_expiry]
type = "reject"
feedback = "approval expired"

[rules.send_payment]
when = { kind = "compare", source = "arg", path = "amount", op = ">", value = 1000 }
allowed = ["approve", "edit", "reject"]

[rules.delete_rows]
when = { kind = "compare", source = "arg", path = "count", op = ">", value = 10 }
"""


@pytest.fixture
def payments() -> Policy:
    return Policy(
        {
            "send_payment": Rule(when=arg("amount") > 1000, allowed=("approve", "edit", "reject")),
            "delete_rows": arg("count") > 10,
        },
        default=never(),
        expires_in=timedelta(hours=24),
    )


# --- check ------------------------------------------------------------------------------


def test_small_payment_runs_without_approval(payments: Policy) -> None:
    verdict = payments.check("send_payment", {"amount": 50, "recipient": "acme"})
    assert not verdict.required
    assert verdict.reason == "amount 50 <= 1000"
    assert verdict.rule == "send_payment"


def test_large_payment_needs_approval_on_the_rules_terms(payments: Policy) -> None:
    verdict = payments.check("send_payment", {"amount": 4200, "recipient": "acme"})
    assert verdict.required
    assert verdict.reason == "amount 4200 > 1000"
    assert (verdict.tool, verdict.rule) == ("send_payment", "send_payment")
    assert verdict.allowed == ("approve", "edit", "reject")
    assert verdict.expires_in == timedelta(hours=24)
    assert verdict.on_expiry.kind == "reject"
    assert verdict.on_expiry.feedback == "approval expired"
    assert verdict.on_expiry.by == "hitl:expiry"


def test_missing_argument_fails_closed(payments: Policy) -> None:
    verdict = payments.check("send_payment", {"recipient": "acme"})
    assert verdict.required
    assert verdict.reason == "approval required: amount is missing"


def test_mistyped_argument_fails_closed(payments: Policy) -> None:
    verdict = payments.check("send_payment", {"amount": "4200"})
    assert verdict.required
    assert verdict.reason == "approval required: amount is str '4200', not a number"


def test_unknown_allow_lets_the_call_run(payments: Policy) -> None:
    policy = payments.model_copy(update={"unknown": "allow"})
    verdict = policy.check("send_payment", {})
    assert not verdict.required
    assert "amount is missing" in verdict.reason


def test_unknown_error_raises(payments: Policy) -> None:
    policy = Policy.from_data({**payments.to_data(), "unknown": "error"})
    with pytest.raises(PredicateTypeError, match="amount is missing"):
        policy.check("send_payment", {})
    assert not policy.check("send_payment", {"amount": 1}).required


def test_tool_without_rule_uses_the_default(payments: Policy) -> None:
    verdict = payments.check("read_file", {"path": "/etc/passwd"})
    assert (verdict.required, verdict.rule, verdict.reason) == (
        False,
        "default",
        "never requires approval",
    )
    strict = Policy.require_all(expires_in="30m")
    verdict = strict.check("read_file", {})
    assert (verdict.required, verdict.rule, verdict.expires_in) == (
        True,
        "default",
        timedelta(minutes=30),
    )
    assert not Policy.allow_all().check("anything", {}).required


def test_rule_expiry_overrides_the_policys() -> None:
    policy = Policy({"wire": Rule(when=always(), expires_in=timedelta(minutes=5))}, expires_in="1d")
    assert policy.check("wire", {}).expires_in == timedelta(minutes=5)
    assert Policy(default=always()).check("wire", {}).expires_in is None


@pytest.mark.parametrize("args", [[1, 2], "amount=4200", None, 4200])
def test_non_dict_arguments_take_the_unknown_path(payments: Policy, args: Any) -> None:
    verdict = payments.check("send_payment", args)
    assert verdict.required
    assert verdict.reason.startswith("approval required: arguments are ")


def test_context_feeds_ctx_predicates() -> None:
    policy = Policy({"deploy": (ctx("user.role") != "admin") | (arg("env") == "prod")})
    assert policy.check("deploy", {"env": "dev"}, {"user": {"role": "admin"}}).required is False
    verdict = policy.check("deploy", {"env": "dev"}, {"user": {"role": "intern"}})
    assert verdict.reason == "context.user.role 'intern' != 'admin'"
    assert policy.check("deploy", {"env": "dev"}).required  # no context: UNKNOWN, fail closed


@given(amount=st.integers() | st.floats() | st.text() | st.none())
def test_check_is_deterministic(amount: Any) -> None:
    """check is re-run on resume, so it gives the same verdict every time."""
    policy = Policy({"send_payment": arg("amount") > 1000})
    first = policy.check("send_payment", {"amount": amount})
    assert policy.check("send_payment", {"amount": amount}) == first
    assert Policy.from_json(policy.to_json()).check("send_payment", {"amount": amount}) == first


# --- loading and round trips ------------------------------------------------------------


def test_documented_toml_loads_to_the_payments_policy(payments: Policy, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(PAYMENTS_TOML, encoding="utf-8")
    assert Policy.from_file(path) == payments
    assert Policy.from_toml(PAYMENTS_TOML) == payments


def test_round_trips_through_dict_json_and_files(payments: Policy, tmp_path: Path) -> None:
    assert Policy.from_data(payments.to_data()) == payments
    assert Policy.from_json(payments.to_json()) == payments
    for name, text in [("p.json", payments.to_json()), ("p.toml", payments.to_toml())]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert Policy.from_file(tmp_path / name) == payments


def test_data_shape(payments: Policy) -> None:
    assert payments.to_data() == {
        "default": "never",
        "expires_in": "1d",
        "unknown": "require",
        "on_expiry": {"type": "reject", "by": "hitl:expiry", "feedback": "approval expired"},
        "rules": {
            "send_payment": {
                "when": {
                    "kind": "compare",
                    "source": "arg",
                    "path": "amount",
                    "op": ">",
                    "value": 1000,
                },
                "allowed": ["approve", "edit", "reject"],
            },
            "delete_rows": {
                "when": {
                    "kind": "compare",
                    "source": "arg",
                    "path": "count",
                    "op": ">",
                    "value": 10,
                },
            },
        },
    }


def test_expiry_template_time_is_neither_kept_nor_compared() -> None:
    """Decision.at defaults to now; a template's `at` must not make equal policies differ."""
    early = Decision.reject("too slow", by="hitl:expiry").model_copy(
        update={"at": datetime(2020, 1, 1, tzinfo=UTC)}
    )
    policy = Policy(on_expiry=early)
    assert policy == Policy(on_expiry=Decision.reject("too slow", by="hitl:expiry"))
    assert "at" not in policy.to_data()["on_expiry"]
    assert Policy.from_data({"on_expiry": {"type": "approve"}}).on_expiry.by == "hitl:expiry"


def test_shorthands_for_rules_and_default() -> None:
    policy = Policy.from_data(
        {"default": {"kind": "tool_in", "tools": ["rm"]}, "rules": {"purge": "always"}}
    )
    assert policy == Policy({"purge": always()}, default=tool_in({"rm"}))
    assert policy.check("rm", {}).required
    assert policy.to_data()["rules"] == {"purge": {"when": "always"}}


# --- generated policies -----------------------------------------------------------------

leaf_predicates = st.one_of(
    st.builds(lambda n: arg("amount") > n, st.integers(-(2**31), 2**31) | st.floats(-1e9, 1e9)),
    st.builds(lambda vs: arg("recipient").not_in(vs), st.lists(st.text(max_size=6), max_size=6)),
    st.builds(lambda p: arg("account").matches(p), st.sampled_from(["CH\\d+", "[a-z]*\\.?"])),
    st.builds(lambda v: arg("tags").contains(v), st.text(max_size=4) | st.booleans() | st.none()),
    st.builds(tool_in, st.sets(st.text(min_size=1, max_size=6), max_size=3)),
    st.sampled_from([always(), never(), ctx("user.id").exists()]),
)
predicates: st.SearchStrategy[Predicate] = st.recursive(
    leaf_predicates,
    lambda c: (
        st.lists(c, min_size=2, max_size=3).map(lambda ps: AnyOf(of=tuple(ps)))
        | st.tuples(c, c).map(lambda pq: pq[0] & pq[1])
        | c.map(lambda p: ~p)
    ),
    max_leaves=4,
)
expiries = st.none() | st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(9999))
kinds = st.lists(st.sampled_from(ALL_KINDS), min_size=1, max_size=4, unique=True).map(
    lambda ks: cast(tuple[DecisionKind, ...], tuple(ks))
)
rules = st.builds(
    Rule,
    when=predicates,
    allowed=kinds,
    expires_in=expiries,
    description=st.none() | st.text(max_size=20),
)
edit_args = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner),
        max_leaves=4,
    ),
    max_size=3,
)
expiry_decisions = st.one_of(
    st.builds(lambda f: Decision.reject(f, by="hitl:expiry"), st.none() | st.text(max_size=10)),
    st.builds(lambda by: Decision.approve(by=by), st.text(min_size=1, max_size=8)),
    st.builds(lambda a: Decision.respond(a, by="bot"), st.text(max_size=10)),
    st.builds(lambda args: Decision.edit(args, by="hitl:expiry"), edit_args),
)
policies = st.builds(
    Policy,
    rules=st.dictionaries(st.text(min_size=1, max_size=12), rules, max_size=2),
    default=rules | predicates,
    expires_in=expiries,
    on_expiry=expiry_decisions,
    unknown=st.sampled_from(["require", "allow", "error"]),
)


def _holds_null(data: Any) -> bool:
    if isinstance(data, dict):
        return any(_holds_null(v) for v in data.values())
    if isinstance(data, list):
        return any(_holds_null(v) for v in data)
    return data is None


@given(policy=policies)
def test_generated_policies_round_trip(
    policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Through data, JSON and TOML text, and both kinds of file, a policy comes back equal."""
    data = policy.to_data()
    assert Policy.from_data(data) == policy
    assert Policy.from_data(data).to_data() == data
    assert Policy.from_json(policy.to_json()) == policy
    folder = tmp_path_factory.mktemp("policies")
    (folder / "p.json").write_text(policy.to_json(), encoding="utf-8")
    assert Policy.from_file(folder / "p.json") == policy
    if _holds_null(data):  # TOML has no null: it refuses rather than drop a constant
        with pytest.raises(ValueError, match="TOML has no null"):
            policy.to_toml()
        return
    assert Policy.from_toml(policy.to_toml()) == policy
    (folder / "p.toml").write_text(policy.to_toml(), encoding="utf-8")
    assert Policy.from_file(folder / "p.toml") == policy


# --- bad data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"rules": {"send_payment": {"when": {"kind": "gt", "path": "amount"}}}},
            "rules.send_payment.when: unknown predicate kind 'gt'",
        ),
        ({"rules": {"x": {"kind": "gt"}}}, "rules.x.when: unknown predicate kind 'gt'"),
        (
            {"rules": {"x": {"when": {"kind": "all", "of": [{"kind": "exists", "path": "a"}]}}}},
            "rules.x.when.of.0.source: required, but missing",
        ),
        (
            {"rules": {"x": {"when": "always", "allowed": ["approve", "maybe"]}}},
            "rules.x.allowed.1",
        ),
        ({"rules": {"x": {"when": "always", "allowed": []}}}, "rules.x.allowed: "),
        ({"rules": {"x": {"when": "always", "alowed": []}}}, "rules.x.alowed: unexpected field"),
        ({"rules": {"x": {"allowed": ["approve"]}}}, "rules.x.when: required, but missing"),
        ({"rules": ["send_payment"]}, "rules: "),
        ({"default": "sometimes"}, "default.when: unknown predicate 'sometimes'"),
        ({"expires_in": "5 hours"}, "expires_in: '5 hours' is not a duration"),
        ({"expires_in": 0}, "expires_in: an expiry must be longer than zero"),
        ({"on_expiry": {"type": "maybe"}}, "on_expiry: unknown decision type 'maybe'"),
        ({"on_expiry": {"type": "edit"}}, "on_expiry.args: required, but missing"),
        ({"unknown": "ignore"}, "unknown: "),
        ({"rule": {}}, "rule: unexpected field"),
    ],
)
def test_bad_data_names_the_path(data: Any, message: str) -> None:
    with pytest.raises(InvalidPolicy, match=re.escape(message)):
        Policy.from_data(data)


def test_bad_text_and_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match="not valid TOML"):
        Policy.from_toml("rules = [")
    with pytest.raises(InvalidPolicy, match="not valid JSON"):
        Policy.from_json("{")
    with pytest.raises(InvalidPolicy, match="expected a table of settings, got list"):
        Policy.from_json("[]")
    (tmp_path / "p.yaml").write_text("default: never\n", encoding="utf-8")
    with pytest.raises(InvalidPolicy, match=r"policy file .*p\.yaml: unsupported file type"):
        Policy.from_file(tmp_path / "p.yaml")
    (tmp_path / "p.toml").write_text('unknown = "sometimes"\n', encoding="utf-8")
    with pytest.raises(InvalidPolicy, match=r"policy file .*p\.toml: unknown: "):
        Policy.from_file(tmp_path / "p.toml")


def test_constructor_reports_invalid_policy() -> None:
    with pytest.raises(InvalidPolicy, match=r"rules\.send_payment: "):
        Policy({"send_payment": cast(Any, 1000)})
    with pytest.raises(PredicateTypeError, match="looks like a number"):
        Policy({"send_payment": arg("amount") > "1000"})


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5s", timedelta(milliseconds=1500)),
        (90, timedelta(seconds=90)),
    ],
)
def test_durations_parse(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "5 hours", "1m1h", "1h1h", "-5m", "1.h", "PT24H"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.timedeltas(min_value=timedelta(0)))
def test_durations_format_losslessly(duration: timedelta) -> None:
    text = format_duration(duration)
    assert parse_duration(text) == duration
    assert re.fullmatch(r"(\d+d)?(\d+h)?(\d+m)?(\d+(\.\d+)?s)?", text)
    assert json.loads(json.dumps(text)) == text
