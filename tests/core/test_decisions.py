"""Decisions: constructors, JSON round trips, JSON Schema, and LangChain's wire format."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core import (
    AnyDecision,
    Approve,
    Decision,
    Edit,
    MalformedDecision,
    Reject,
    Respond,
    UnknownDecisionKind,
)
from hitl_core.decisions import decision_adapter
from hitl_core.wire.langchain import (
    from_langchain,
    from_langchain_response,
    to_langchain,
    to_langchain_request,
)
from tests.factories import payment_request

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=4)
texts = st.text(min_size=1, max_size=30)
optional_texts = st.none() | texts
times = st.datetimes(timezones=st.just(UTC))


@st.composite
def decisions(draw: st.DrawFn) -> AnyDecision:
    by, at = draw(texts), draw(times)
    kind = draw(st.sampled_from(["approve", "edit", "reject", "respond"]))
    binding = {
        "request_id": draw(st.none() | st.just("req_1")),
        "args_digest": draw(st.none() | st.just("sha256:ab")),
    }
    if kind == "approve":
        return Approve(by=by, at=at, feedback=draw(optional_texts), **binding)
    if kind == "reject":
        return Reject(by=by, at=at, feedback=draw(optional_texts), **binding)
    if kind == "edit":
        tool = draw(st.none() | st.just("send_payment"))
        return Edit(
            by=by,
            at=at,
            args=draw(json_objects),
            feedback=draw(optional_texts),
            tool=tool,
            **binding,
        )
    return Respond(by=by, at=at, answer=draw(st.text(max_size=30)), **binding)


def test_constructors_read_naturally() -> None:
    assert Decision.approve(by="ana").kind == "approve"
    rejected = Decision.reject("over budget", by="ana")
    assert (rejected.feedback, rejected.by, rejected.outcome) == ("over budget", "ana", "rejected")
    edited = Decision.edit({"amount": 4000}, by="ana")
    assert (edited.args, edited.outcome) == ({"amount": 4000}, "edited")
    assert Decision.respond("Invoice 88", by="ana").answer == "Invoice 88"
    assert isinstance(edited, Decision)


@given(decisions())
def test_decisions_round_trip_through_json(decision: AnyDecision) -> None:
    text = decision_adapter.dump_json(decision)
    assert Decision.parse_json(text) == decision


@given(decisions())
def test_decisions_round_trip_through_langchain(decision: AnyDecision) -> None:
    wire = to_langchain(decision, tool="send_payment")
    assert wire["type"] == decision.kind
    assert from_langchain(wire) == decision


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "approve"},
        {"type": "reject"},
        {"type": "reject", "message": "Keep the report."},
        {"type": "respond", "message": "Invoice 88"},
        {"type": "edit", "edited_action": {"name": "send_payment", "args": {"amount": 4000}}},
    ],
)
def test_langchain_payloads_round_trip_exactly(payload: dict[str, Any]) -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    decision = from_langchain(payload, by="ana", at=at)
    assert decision.by == "ana"
    assert to_langchain(decision, include_meta=False) == payload


def test_langchain_identity_comes_from_the_server_not_the_payload() -> None:
    payload = {"type": "approve", "hitl": {"by": "mallory"}}
    assert from_langchain(payload, by="ana").by == "ana"


def test_langchain_request_view_and_response_pairing() -> None:
    first = payment_request(call_id="a", amount=2000)
    second = payment_request(run_id=first.run_id, call_id="b", amount=3000)
    view = to_langchain_request([first, second])
    assert view["action_requests"][1] == {
        "name": "send_payment",
        "args": {"amount": 3000, "recipient": "Acme Corp"},
        "description": "amount 3000 > 1000",
    }
    assert view["review_configs"][0]["allowed_decisions"] == [
        "approve",
        "edit",
        "reject",
        "respond",
    ]
    pairs = from_langchain_response(
        {
            "decisions": [
                {"type": "approve"},
                {"type": "edit", "edited_action": {"name": "send_payment", "args": {"amount": 1}}},
            ]
        },
        [first, second],
        by="ana",
    )
    assert [(rid, d.kind, d.request_id) for rid, d in pairs] == [
        (first.id, "approve", first.id),
        (second.id, "edit", second.id),
    ]
    with pytest.raises(Exception, match="Got 1 decisions for 2 requests"):
        from_langchain_response({"decisions": [{"type": "approve"}]}, [first, second], by="ana")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"type": "maybe", "by": "ana"}, UnknownDecisionKind),
        ({"by": "ana"}, UnknownDecisionKind),
        ("approve", UnknownDecisionKind),
        ({"type": "edit", "by": "ana"}, MalformedDecision),
        ({"type": "approve"}, MalformedDecision),
        ({"type": "approve", "by": "ana", "surprise": 1}, MalformedDecision),
    ],
)
def test_bad_payloads_get_specific_errors(payload: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"unchanged|Use one of"):
        Decision.parse(payload)


def test_unknown_langchain_kind() -> None:
    with pytest.raises(UnknownDecisionKind, match="'accept'"):
        from_langchain({"type": "accept"}, by="ana")


def test_the_decision_schema_is_a_discriminated_union() -> None:
    schema = decision_adapter.json_schema()
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == {"approve", "edit", "reject", "respond"}
