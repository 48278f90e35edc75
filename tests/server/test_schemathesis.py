"""Schemathesis against the app's own OpenAPI document, in process (ASGI), over every store.

Whatever a client sends, within the document or deliberately outside it, the server
answers without a 5xx, and its answers match the statuses, content types and bodies
the document declares. Each operation gets positive and negative cases from
Schemathesis's strategies; they run through Hypothesis here rather than through the
pytest plugin, whose lazy (fixture) schemas do not run under pytest 9.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hitl_core import ApprovalStore, Decision
from hitl_server.app import create_app
from tests.factories import payment_request
from tests.server.conftest import ALICE, REVIEWERS

Operation: TypeAlias = APIOperation[Any, Any, Any, Any]
AUTH = {"Authorization": f"Bearer {ALICE}"}
EXAMPLES = 30
"""Cases per operation and mode: the whole run stays well under a minute on 2 cores."""
STREAM_READ = 0.05
"""Seconds an event stream is read before the client cuts it (a stream never ends)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def schema(store: ApprovalStore) -> BaseSchema:
    """The app's schema over `store`, which holds a pending and a decided request."""
    store.put(payment_request(run_id="run_pending"))
    decided = store.put(payment_request(run_id="run_decided"))
    store.decide(decided.id, Decision.approve(by="alice"))
    app = create_app(store, reviewers=REVIEWERS, event_poll=0.01)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def exercise(operation: Operation, mode: GenerationMode) -> None:
    """Run `EXAMPLES` generated cases of one operation through every check."""
    read = STREAM_READ if operation.path == "/v1/events" else 10

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Operation]) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=read)

    run()


def test_no_input_makes_a_server_error(schema: BaseSchema) -> None:
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    labels = {f"{op.method.upper()} {op.path}" for op in operations}
    assert labels == {
        "GET /healthz",
        "GET /v1/me",
        "GET /v1/requests",
        "GET /v1/requests/{request_id}",
        "POST /v1/requests/{request_id}/decision",
        "GET /v1/runs/{run_id}/audit",
        "GET /v1/audit/verify",
        "GET /v1/events",
    }
    for operation in operations:
        exercise(operation, GenerationMode.POSITIVE)
        if takes_input(operation):  # nothing to get wrong in `GET /v1/me`
            exercise(operation, GenerationMode.NEGATIVE)


def takes_input(operation: Operation) -> bool:
    parts = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(part) for part in parts)
