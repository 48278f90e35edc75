"""The shipped scripted chat model, and the LangGraph row of ``hitl demo``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

import hitl_langgraph
from hitl_cli.demo import CASES, _plain_loop
from hitl_cli.demo_langgraph import run_case
from hitl_core import open_store
from hitl_langgraph import ScriptedChatModel, ScriptExhausted, call


def test_the_turn_played_is_the_number_of_ai_messages_so_far() -> None:
    def quote(messages: Sequence[BaseMessage]) -> str:
        return f"Result: {messages[-1].content}"

    model = ScriptedChatModel([[call("get_balance"), call("pay", {"amount": 1})], quote])
    first = model.invoke([HumanMessage("hi")])
    assert [(c["id"], c["name"], c["args"]) for c in first.tool_calls] == [
        ("call_0_0", "get_balance", {}),
        ("call_0_1", "pay", {"amount": 1}),
    ]
    history = [HumanMessage("hi"), first, ToolMessage("42", tool_call_id="call_0_1")]
    # A fresh instance (another process) continues where the conversation stands.
    again = ScriptedChatModel([[call("get_balance")], quote]).invoke(history)
    assert again.content == "Result: 42"
    with pytest.raises(ScriptExhausted, match="add a final answer"):
        model.invoke([*history, AIMessage("done")])
    assert len(model.prompts) == 2


def test_bind_tools_records_the_tools_and_keeps_the_script() -> None:
    def lookup(key: str) -> str:
        """Look a key up."""
        return key

    model = ScriptedChatModel(["ok"])
    bound = model.bind_tools([lookup, {"name": "raw", "parameters": {}}])
    assert model.tool_names == ["lookup", "raw"]
    assert bound.invoke([HumanMessage("hi")]).content == "ok"


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_the_demo_row_matches_the_plain_loop(store_kind: str, tmp_path: Path) -> None:
    url = "memory://" if store_kind == "memory" else f"sqlite:///{tmp_path / 'demo.db'}"
    store = open_store(url)
    try:
        for case in CASES:
            loop, graph = _plain_loop(store, case, []), run_case(store, case, [])
            assert graph.adapter == "LangGraph"
            for name in ("case", "decision", "executed", "told", "answer"):
                assert getattr(graph, name) == getattr(loop, name), (case.name, name)
            assert graph.paused.partition(":")[2] == loop.paused.partition(":")[2]
        assert store.list_requests().items == []
    finally:
        store.close()


def test_every_public_name_resolves_and_the_package_is_typed() -> None:
    assert [n for n in hitl_langgraph.__all__ if not hasattr(hitl_langgraph, n)] == []
    assert (Path(str(hitl_langgraph.__file__)).parent / "py.typed").exists()


def test_the_adapter_imports_no_other_framework_or_server() -> None:
    code = "import sys, hitl_langgraph; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = set(
        json.loads(
            subprocess.check_output([sys.executable, "-c", code], text=True).replace("'", '"')
        )
    )
    assert loaded & {"agents", "openai", "fastapi", "uvicorn", "hitl_loop"} == set()
    assert {"langgraph", "langchain_core"} <= loaded
