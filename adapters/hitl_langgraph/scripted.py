"""A deterministic LangChain chat model that plays a script: for tests, demos and conformance.

It supports ``bind_tools``, so ``create_agent`` and hand-built graphs take it like any
provider's model. It keeps no state of its own: the turn it plays is the number of
`AIMessage`s already in the conversation, so a run paused in one process and resumed
in another continues the script exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.messages.tool import tool_call
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import PrivateAttr

__all__ = ["ScriptExhausted", "ScriptedChatModel", "call"]

Reply = Callable[[Sequence[BaseMessage]], "str | AIMessage"]
"""A step computed from the conversation: a final answer quoting a result, say."""
Step = str | ToolCall | Sequence[ToolCall] | AIMessage | Reply


class ScriptExhausted(RuntimeError):
    """The conversation went past the last scripted turn."""


def call(name: str, args: dict[str, Any] | None = None, *, id: str | None = None) -> ToolCall:
    """A scripted tool call; its id defaults to one derived from its turn and position."""
    return tool_call(name=name, args=args or {}, id=id)


class ScriptedChatModel(BaseChatModel):
    """Plays `steps` in order: a string is a final answer, calls are a tool-calling turn.

    A callable step receives the conversation and returns the answer's text or an
    `AIMessage`. Tool calls without an id get ``call_<turn>_<position>``.
    """

    steps: list[Any]
    _prompts: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _tool_names: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, steps: Sequence[Step], **kwargs: Any) -> None:
        super().__init__(
            steps=[s if callable(s) else _as_message(i, s) for i, s in enumerate(steps)],
            **kwargs,
        )

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        """Every conversation this instance was asked to continue, for assertions."""
        return self._prompts

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools last bound with `bind_tools`."""
        return list(self._tool_names)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Accept the tools (the script decides the calls); remember their names."""
        self._tool_names = [_tool_name(t) for t in tools]
        return self.bind(tools=self._tool_names, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._prompts.append(list(messages))
        turn = sum(1 for m in messages if isinstance(m, AIMessage))
        if turn >= len(self.steps):
            raise ScriptExhausted(
                f"The script has {len(self.steps)} turns and the conversation asks for turn "
                f"{turn + 1}; add a final answer to the script."
            )
        step = self.steps[turn]
        if callable(step):
            reply = step(messages)
            message = reply if isinstance(reply, AIMessage) else AIMessage(content=reply)
        else:
            message = step.model_copy(deep=True)
        return ChatResult(generations=[ChatGeneration(message=message)])


def _as_message(turn: int, step: str | ToolCall | Sequence[ToolCall] | AIMessage) -> AIMessage:
    if isinstance(step, AIMessage):
        return step
    if isinstance(step, str):
        return AIMessage(content=step)
    calls = [step] if isinstance(step, dict) else list(step)
    numbered = [c if c.get("id") else {**c, "id": f"call_{turn}_{i}"} for i, c in enumerate(calls)]
    return AIMessage(content="", tool_calls=numbered)


def _tool_name(tool: Any) -> str:
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict):
        return str(tool.get("name") or tool.get("function", {}).get("name", ""))
    return str(getattr(tool, "__name__", tool))
