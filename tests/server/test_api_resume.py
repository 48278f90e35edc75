"""Deciding over HTTP resumes the run: a paused `hitl_loop` payment runs once, as decided."""

from __future__ import annotations

from pathlib import Path

from hitl_core import ApprovalStore, AuditKind, RequestStatus, RunStatus
from tests.server.conftest import CAROL, PaymentsAgent, ServeApi


def test_an_approval_resumes_the_run_and_the_payment_runs_once(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api(registry=agent.registry)
    paused = agent.pause()
    request = paused.requests[0]
    assert agent.executed() == []

    response = api.client().post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
    assert response.status_code == 200
    assert response.json()["resume"] == "scheduled"

    assert agent.wait_until_finished(paused.run_id) is RunStatus.COMPLETED
    assert agent.executed() == [
        {"tool": "send_payment", "args": {"amount": 4200, "recipient": "Acme Corp"}}
    ]
    assert store.get(request.id).status is RequestStatus.RESUMED
    kinds = [e.kind for e in store.audit(run_id=paused.run_id)]
    assert kinds.count(AuditKind.RESUMED) == 1
    assert kinds.count(AuditKind.EXECUTED) == 1


def test_an_edit_runs_the_edited_arguments_exactly(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api(registry=agent.registry)
    paused = agent.pause()
    edited = {"amount": 3999.5, "recipient": "Acme Corp Ltd"}

    response = api.client(CAROL).post(
        f"/v1/requests/{paused.requests[0].id}/decision",
        json={"type": "edit", "args": edited, "feedback": "capped"},
    )
    assert response.status_code == 200
    assert response.json()["resume"] == "scheduled"

    assert agent.wait_until_finished(paused.run_id) is RunStatus.COMPLETED
    assert agent.executed() == [{"tool": "send_payment", "args": edited}]


def test_a_rejection_resumes_without_running_the_tool(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api(registry=agent.registry)
    paused = agent.pause()
    response = api.client().post(
        f"/v1/requests/{paused.requests[0].id}/decision", json={"type": "reject", "feedback": "no"}
    )
    assert response.json()["resume"] == "scheduled"
    assert agent.wait_until_finished(paused.run_id) is RunStatus.COMPLETED
    assert agent.executed() == []


def test_without_a_registry_the_run_waits_for_a_worker(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api()
    paused = agent.pause()
    response = api.client().post(
        f"/v1/requests/{paused.requests[0].id}/decision", json={"type": "approve"}
    )
    assert response.json()["resume"] == "none"
    assert store.load_run(paused.run_id).status is RunStatus.PAUSED
    assert store.get(paused.requests[0].id).status is RequestStatus.DECIDED
    assert agent.executed() == []


def test_a_registry_without_the_adapter_schedules_nothing(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api(registry={"hitl_langgraph": agent.registry["hitl_loop"]})
    paused = agent.pause()
    response = api.client().post(
        f"/v1/requests/{paused.requests[0].id}/decision", json={"type": "approve"}
    )
    assert response.json()["resume"] == "none"
    assert store.load_run(paused.run_id).status is RunStatus.PAUSED


def test_two_servers_on_one_store_resume_each_run_once(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    servers = [serve_api(registry=agent.registry), serve_api(registry=agent.registry)]
    runs = [agent.pause() for _ in range(6)]
    for index, paused in enumerate(runs):
        http = servers[index % 2].client()
        response = http.post(
            f"/v1/requests/{paused.requests[0].id}/decision", json={"type": "approve"}
        )
        assert response.json()["resume"] == "scheduled"
    for paused in runs:
        assert agent.wait_until_finished(paused.run_id) is RunStatus.COMPLETED
    assert len(agent.executed()) == len(runs)
    for paused in runs:
        kinds = [e.kind for e in store.audit(run_id=paused.run_id)]
        assert kinds.count(AuditKind.EXECUTED) == 1
        assert kinds.count(AuditKind.RESUMED) == 1
