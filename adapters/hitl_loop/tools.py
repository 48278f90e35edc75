"""Plain Python functions as tools: the schema comes from the type hints."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from hitl_loop.messages import ToolSpec

__all__ = ["InvalidToolArguments", "Tool", "tool"]


class InvalidToolArguments(ValueError):
    """Arguments the tool's signature does not accept; the model is told, nothing runs."""


@dataclass(frozen=True)
class Tool:
    """A function the model may call, with the argument model derived from its signature."""

    name: str
    description: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]
    requires_approval: bool = False
    """Every call pauses for a human, whatever the policy says (a policy only adds gates)."""
    idempotent: bool = False
    """Safe to run twice: after a crash left a call's outcome unknown, it is retried
    (with the same idempotency key) instead of being put to a person."""
    schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        object.__setattr__(self, "schema", schema)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        idempotent: bool = False,
    ) -> Tool:
        """Wrap `fn`; its parameters must be annotated, its docstring describes it."""
        hints = get_type_hints(fn)
        fields: dict[str, Any] = {}
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"Tool {fn.__name__!r}: *args and **kwargs cannot be described")
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (annotation, default)
        tool_name = name or fn.__name__
        model = create_model(f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields)
        doc = inspect.getdoc(fn) or ""
        summary = description or doc.split("\n\n")[0] or tool_name
        return cls(tool_name, summary, fn, model, requires_approval, idempotent)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.schema)

    def validate(self, args: dict[str, Any]) -> BaseModel:
        """The arguments as the function will receive them.

        Raises:
            InvalidToolArguments: with one line per problem.
        """
        try:
            return self.args_model.model_validate(args)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
                for e in error.errors()
            )
            raise InvalidToolArguments(f"Invalid arguments for {self.name}: {problems}") from None

    def invoke(self, args: dict[str, Any]) -> str:
        """Validate, run, and render the result as text for the model."""
        validated = self.validate(args)
        result = self.fn(
            **{name: getattr(validated, name) for name in type(validated).model_fields}
        )
        return result if isinstance(result, str) else json.dumps(result, default=str)


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    idempotent: bool = False,
) -> Any:
    """Decorator form of `Tool.from_function`: ``@tool`` or ``@tool(requires_approval=True)``."""
    options: dict[str, Any] = {
        "name": name,
        "description": description,
        "requires_approval": requires_approval,
        "idempotent": idempotent,
    }
    if fn is None:
        return lambda f: Tool.from_function(f, **options)
    return Tool.from_function(fn, **options)
