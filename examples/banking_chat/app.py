"""The chat API: stream a run; stop and save it when a transfer needs a yes; resume on a decision.

    POST /chat                    {"session_id", "message"}  -> SSE: the run as it happens
    POST /decisions/{request_id}  {"approved", "feedback"?} -> SSE: the resumed run
    GET  /pending[?session_id=]   transfers waiting for a yes or no

A chat stream that reaches a gated transfer ends with an ``approval_required`` event and
closes: the run is already saved in the store, so nothing waits on an open connection.
The decision endpoint records the answer, loads the run from the store and streams the
rest. No run lives in memory between the two requests, so the second may reach another
instance or a restarted process. Should the resume fail after the answer is recorded, the
request stays decided and a `hitl worker` on the same store finishes the run.

SSE events, each ``data`` a JSON object:

- ``tool_call`` ``{tool, args}``: the model asked for a tool.
- ``tool_result`` ``{tool, content, is_error}``: a call ran, or a decision answered it.
- ``text`` ``{text}``: the model's words.
- ``approval_required`` (`PendingAction`): the stream stops here; ask the customer.
- ``decision`` ``{request_id, outcome}``: first event of a decision's stream.
- ``done`` ``{run_id}``: the run finished.
- ``error`` ``{message}``: the run could not continue.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at runtime,
# and they name `record_decision`, which exists only inside `create_app`.
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from examples.banking_chat.agent import build_agent
from examples.banking_chat.bank import Bank
from hitl_core import (
    AlreadyDecided,
    ApprovalRequest,
    Decision,
    HITLError,
    RequestExpired,
    UnknownRequest,
    open_store,
)
from hitl_loop import ChatModel, Paused
from hitl_loop.state import LoopEvent, ModelTurn, ToolSettled

__all__ = ["ChatIn", "DecisionIn", "PendingAction", "create_app", "sse_events"]


class ChatIn(BaseModel):
    session_id: str = Field(min_length=1)
    """The chat session; kept with the run, so pending transfers can be listed per session."""
    message: str = Field(min_length=1)


class DecisionIn(BaseModel):
    approved: bool
    feedback: str | None = None
    """Why, in the customer's words; on a rejection the model reads it."""


class PendingAction(BaseModel):
    """A transfer waiting for the customer: what the front end shows next to yes/no buttons."""

    request_id: str
    run_id: str
    session_id: str | None
    tool: str
    args: dict[str, Any]
    reason: str
    expires_at: datetime | None

    @classmethod
    def of(cls, request: ApprovalRequest) -> "PendingAction":
        return cls(
            request_id=request.id,
            run_id=request.run_id,
            session_id=request.context.get("session_id"),
            tool=request.action.tool,
            args=dict(request.action.args),
            reason=request.reason,
            expires_at=request.expires_at,
        )


def sse_events(events: Iterable[LoopEvent]) -> Iterator[ServerSentEvent]:
    """The loop's stream as SSE events; ends after ``approval_required`` or ``done``."""
    try:
        for event in events:
            if isinstance(event, ModelTurn):
                for call in event.message.tool_calls:
                    yield ServerSentEvent(
                        event="tool_call", data={"tool": call.name, "args": call.args}
                    )
                if event.message.content:
                    yield ServerSentEvent(event="text", data={"text": event.message.content})
            elif isinstance(event, ToolSettled):
                result = {"tool": event.tool, "content": event.content, "is_error": event.is_error}
                yield ServerSentEvent(event="tool_result", data=result)
            elif isinstance(event, Paused):
                for request in event.requests:
                    pending = PendingAction.of(request)
                    yield ServerSentEvent(event="approval_required", id=request.id, data=pending)
            else:
                yield ServerSentEvent(event="done", data={"run_id": event.run_id})
    except HITLError as error:  # e.g. the run was resumed elsewhere meanwhile
        yield ServerSentEvent(event="error", data={"message": str(error)})


def create_app(store_url: str, bank_path: Path, *, model: ChatModel | None = None) -> FastAPI:
    """The API over an approval store and a bank file; every instance may serve any request."""
    store = open_store(store_url)
    agent = build_agent(store, Bank(bank_path), model=model)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="Banking chat", lifespan=lifespan)

    @app.post("/chat", response_class=EventSourceResponse)
    def chat(body: ChatIn) -> Iterator[ServerSentEvent]:
        """Run the agent on one message and stream it; stops at a transfer that needs a yes."""
        yield from sse_events(agent.stream(body.message, context={"session_id": body.session_id}))

    def record_decision(request_id: str, body: DecisionIn) -> ApprovalRequest:
        """Record the answer before any event is sent, so a refusal still gets its status code."""
        try:
            request = store.get(request_id)
            # Unauthenticated here: anyone holding the request id may answer. In production,
            # check the caller owns the run's session and record their authenticated id.
            by = f"customer:{request.context.get('session_id', 'unknown')}"
            decision = (
                Decision.approve(by=by, feedback=body.feedback)
                if body.approved
                else Decision.reject(body.feedback, by=by)
            )
            return store.decide(request_id, decision)
        except UnknownRequest:
            raise HTTPException(404, f"No pending action {request_id}.") from None
        except (AlreadyDecided, RequestExpired) as error:
            raise HTTPException(409, str(error)) from None

    @app.post("/decisions/{request_id}", response_class=EventSourceResponse)
    def decide(
        decided: Annotated[ApprovalRequest, Depends(record_decision)],
    ) -> Iterator[ServerSentEvent]:
        """Resume the run from the store with the recorded decision, and stream the rest."""
        outcome = decided.decision.outcome if decided.decision else None
        yield ServerSentEvent(event="decision", data={"request_id": decided.id, "outcome": outcome})
        yield from sse_events(agent.stream_resume(decided.run_id))

    @app.get("/pending")
    def pending(session_id: str | None = None) -> list[PendingAction]:
        """Transfers waiting for an answer (the first 100), optionally for one session."""
        actions = [PendingAction.of(r) for r in store.list_requests().items]
        return [a for a in actions if session_id is None or a.session_id == session_id]

    return app
