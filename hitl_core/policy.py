"""Which tool calls need a human: one rule per tool, a default, expiry, and what UNKNOWN means.

A `Policy` maps tool names to `Rule`s; a rule's predicate decides, call by call, whether
approval is required (see `hitl_core.predicates`). `Policy.check` is pure and
deterministic, because adapters run it again on resume and must get the same verdict.

In Python::

    Policy(
        {"send_payment": arg("amount") > 1000,
         "delete_rows": Rule(when=arg("count") > 10, allowed=("approve", "reject"))},
        default=never(),
        expires_in=timedelta(hours=24),
    )

As data (`Policy.from_toml`, `Policy.from_json`, `Policy.from_file`; every key optional)::

    default = "never"          # "always", "never", a predicate table, or a rule table
    expires_in = "24h"         # "90s", "30m", "2d", "1h30m", or a number of seconds
    unknown = "require"        # "require" (fail closed), "allow", or "error"

    [on_expiry]                # the decision applied when nobody answers in time
    type = "reject"            # any decision; "by" defaults to "hitl:expiry"
    feedback = "approval expired"

    [rules.send_payment]
    when = { kind = "compare", source = "arg", path = "amount", op = ">", value = 1000 }
    allowed = ["approve", "edit", "reject"]   # default: all four kinds
    roles = ["finance"]        # who may decide (with `reviewers = ["alice"]`); default: anyone
    expires_in = "1h"                         # default: the policy's
    description = "Payments over 1000 need a second pair of eyes."

    [rules.delete_rows]
    when = { kind = "compare", source = "arg", path = "count", op = ">", value = 10 }

A rule may also be given as just its predicate (``rules.purge = "always"``). JSON has the
same shape. `Policy.to_data` writes this shape back, and loading it gives an equal policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from hitl_core.decisions import ALL_KINDS, AnyDecision, Decision, DecisionKind
from hitl_core.durations import Duration
from hitl_core.errors import InvalidIdentity, InvalidPolicy, PredicateTypeError
from hitl_core.identities import identity_key
from hitl_core.policy_files import (
    dump_json,
    dump_toml,
    load_json,
    load_toml,
    problems,
    read_policy_file,
)
from hitl_core.predicates import AnyPredicate, Arguments, Const, Context, Predicate, never
from hitl_core.requests import EXPIRY_REVIEWER, EXPIRY_TEMPLATE_AT, default_expiry_outcome

__all__ = ["EXPIRY_REVIEWER", "Policy", "Rule", "Verdict"]

_EPOCH = EXPIRY_TEMPLATE_AT


def _positive(duration: timedelta | None) -> timedelta | None:
    if duration is not None and duration <= timedelta(0):
        raise ValueError(f"an expiry must be longer than zero, got {duration}")
    return duration


_Expiry = Annotated[Duration | None, AfterValidator(_positive)]


class Rule(BaseModel):
    """When one tool needs approval, which answers a reviewer may give, and how long they have."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    when: AnyPredicate
    """Approval is required when this holds, e.g. ``arg("amount") > 1000``."""
    allowed: tuple[DecisionKind, ...] = ALL_KINDS
    """The decision kinds the reviewer may choose; ``("approve", "reject")`` forbids edits."""
    expires_in: _Expiry = None
    """How long a request waits for a human; None uses the policy's `Policy.expires_in`."""
    description: str | None = None
    """Shown to reviewers next to the reason, e.g. why this tool is gated."""
    reviewers: tuple[str, ...] = ()
    """Reviewer ids who may decide this tool's calls; with `roles` empty too, anyone may."""
    roles: tuple[str, ...] = ()
    """Roles whose holders may decide this tool's calls (any one role suffices)."""

    @field_validator("reviewers", "roles")
    @classmethod
    def _comparable(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        """Names the decision checks can compare (`identities.identity_key`), refused here
        rather than matching nobody later."""
        for name in names:
            try:
                identity_key(name)
            except InvalidIdentity as error:
                raise ValueError(f"{name!r}: {error.problem}") from None
        return names

    @field_validator("allowed")
    @classmethod
    def _some_distinct(cls, allowed: tuple[DecisionKind, ...]) -> tuple[DecisionKind, ...]:
        if not allowed or len(set(allowed)) != len(allowed):
            raise ValueError(f"list each decision kind at most once, and at least one: {allowed}")
        return allowed

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out settings at their defaults, and write constant predicates as words."""
        data: dict[str, Any] = handler(self)
        if isinstance(self.when, Const):
            data["when"] = str(self.when).removesuffix("()")
        if self.allowed == ALL_KINDS:
            del data["allowed"]
        for key in ("reviewers", "roles"):
            if not data[key]:
                del data[key]
        return {key: value for key, value in data.items() if value is not None}


def _as_rule(value: Any) -> Any:
    """A predicate, ``"always"``/``"never"``, or a predicate table, all stand for a rule."""
    if isinstance(value, Predicate | str) or (isinstance(value, Mapping) and "kind" in value):
        return {"when": value}
    return value


def _expiry_template(value: Any) -> Any:
    """An on-expiry decision with a fixed `at`, so equal policies compare equal."""
    if isinstance(value, Decision):
        return value.model_copy(update={"at": _EPOCH})
    if isinstance(value, Mapping):
        return {"by": EXPIRY_REVIEWER, **value, "at": _EPOCH}
    return value


def _template_only(decision: AnyDecision) -> AnyDecision:
    if decision.request_id is not None or decision.args_digest is not None:
        raise ValueError("on_expiry is a template: leave request_id and args_digest unset")
    return decision


def _expiry_data(decision: AnyDecision) -> dict[str, Any]:
    data = decision.model_dump(mode="json", exclude={"at", "type"}, exclude_none=True)
    return {"type": decision.type, **data}


_RuleField = Annotated[Rule, BeforeValidator(_as_rule)]
_OnExpiry = Annotated[
    AnyDecision,
    BeforeValidator(_expiry_template),
    AfterValidator(_template_only),
    PlainSerializer(_expiry_data),
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a policy says about one call: whether to ask a human, why, and on what terms."""

    required: bool
    """True when the call must wait for a human decision."""
    reason: str
    """Why, for the reviewer and the audit log, e.g. ``"amount 4200 > 1000"``."""
    tool: str
    """The tool that was called."""
    rule: str
    """The name of the rule that decided: the tool's name, or ``"default"``."""
    allowed: tuple[DecisionKind, ...]
    """The decision kinds the reviewer may give."""
    expires_in: timedelta | None
    """How long the request waits: the rule's setting, else the policy's; None waits forever."""
    on_expiry: AnyDecision
    """The decision applied on expiry; its `at` is a placeholder, stamp the real time."""
    reviewers: tuple[str, ...] = ()
    """Who may decide (the rule's `reviewers`); with `roles` empty too, anyone may."""
    roles: tuple[str, ...] = ()
    """Roles whose holders may decide (the rule's `roles`)."""


class Policy(BaseModel):
    """Rules by tool name, a default for other tools, and what expiry and UNKNOWN mean."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: dict[str, _RuleField] = Field(default_factory=dict)
    """One rule per tool name; a bare predicate stands for ``Rule(when=predicate)``."""
    default: _RuleField = Field(default_factory=lambda: Rule(when=never()))
    """The rule for tools not in `rules`; by default they need no approval."""
    expires_in: _Expiry = None
    """How long any gated call waits unless its rule says otherwise; None waits forever."""
    on_expiry: _OnExpiry = Field(default_factory=default_expiry_outcome)
    """The decision made for a request nobody answered in time; its `at` is not kept."""
    unknown: Literal["require", "allow", "error"] = "require"
    """What an UNKNOWN predicate (missing or mistyped argument) means: ask a human (fail
    closed), let the call run, or raise `PredicateTypeError` from `check`."""

    def __init__(
        self, rules: Mapping[str, Rule | Predicate] | None = None, /, **fields: Any
    ) -> None:
        """Build a policy; `rules` may come first, positionally.

        Raises:
            InvalidPolicy: a setting is invalid; the message names which and why.
        """
        if rules is not None:
            if "rules" in fields:
                raise TypeError("give rules positionally or as rules=..., not both")
            fields["rules"] = rules
        try:
            super().__init__(**fields)
        except ValidationError as error:
            raise InvalidPolicy("; ".join(problems(error, fields))) from None

    @classmethod
    def require_all(cls, **fields: Any) -> Policy:
        """A policy that asks a human before every call (other settings as keywords)."""
        return cls(default="always", **fields)

    @classmethod
    def allow_all(cls, **fields: Any) -> Policy:
        """A policy that never asks (other settings as keywords): for tests and dry runs."""
        return cls(default="never", **fields)

    def check(self, tool: str, args: Arguments, context: Context = None) -> Verdict:
        """Whether a call to `tool` with `args` needs approval, and on what terms.

        Pure and deterministic: the same call gives the same verdict when the run resumes.
        Arguments that are not a dict make argument checks UNKNOWN instead of failing.

        Raises:
            PredicateTypeError: the answer is UNKNOWN and `unknown` is ``"error"``; nothing
                was recorded, so the call can be checked again once its arguments are fixed.
        """
        name, rule = (tool, self.rules[tool]) if tool in self.rules else ("default", self.default)
        outcome = rule.when.evaluate(tool, args, context)
        required, reason = outcome.value, outcome.reason
        if required is None:
            if self.unknown == "error":
                raise PredicateTypeError(
                    f"cannot tell whether {tool} needs approval under rule {name!r}: {reason}. "
                    "Fix the call's arguments, or set the policy's unknown to 'require'"
                )
            required = self.unknown == "require"
            verb = "required" if required else "not required (the policy allows unknowns)"
            reason = f"approval {verb}: {reason}"
        return Verdict(
            required=required,
            reason=reason,
            tool=tool,
            rule=name,
            allowed=rule.allowed,
            expires_in=rule.expires_in if rule.expires_in is not None else self.expires_in,
            on_expiry=self.on_expiry,
            reviewers=rule.reviewers,
            roles=rule.roles,
        )

    def rule_for(self, tool: str) -> Rule:
        """The rule that governs `tool`: its own, else the default."""
        return self.rules.get(tool, self.default)

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-able data in the documented shape; `from_data` gives back an equal policy."""
        default = self.default.model_dump(mode="json")
        data: dict[str, Any] = {
            "default": default["when"] if list(default) == ["when"] else default,
            "expires_in": self.model_dump(mode="json", include={"expires_in"})["expires_in"],
            "unknown": self.unknown,
            "on_expiry": _expiry_data(self.on_expiry),
            "rules": {tool: rule.model_dump(mode="json") for tool, rule in self.rules.items()},
        }
        return {key: value for key, value in data.items() if value is not None}

    def to_json(self) -> str:
        """`to_data` as indented JSON."""
        return dump_json(self.to_data())

    def to_toml(self) -> str:
        """`to_data` as TOML, in the shape the module docstring shows.

        Raises:
            ValueError: the policy holds a null constant, which TOML cannot write; use
                `to_json` for such a policy.
        """
        return dump_toml(self.to_data())

    @classmethod
    def from_data(cls, data: Any, where: str = "policy") -> Policy:
        """Load a policy from plain data (the shape `to_data` writes).

        Args:
            data: The policy as a mapping, e.g. parsed TOML or JSON.
            where: What to call the source in error messages, e.g. a file name.

        Raises:
            InvalidPolicy: the data does not describe a policy; the message gives the path of
                each problem, e.g. ``rules.send_payment.when``.
        """
        if not isinstance(data, Mapping):
            raise InvalidPolicy(f"expected a table of settings, got {type(data).__name__}", where)
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise InvalidPolicy("; ".join(problems(error, data)), where) from None

    @classmethod
    def from_toml(cls, text: str) -> Policy:
        """Load a policy from TOML text (see the module docstring for the shape)."""
        return cls.from_data(load_toml(text))

    @classmethod
    def from_json(cls, text: str | bytes) -> Policy:
        """Load a policy from JSON text of the same shape as the TOML."""
        return cls.from_data(load_json(text))

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load a policy from a ``.toml`` or ``.json`` file.

        Raises:
            InvalidPolicy: unknown suffix, text that does not parse, or invalid settings.
            OSError: the file cannot be read.
        """
        return cls.from_data(read_policy_file(path), where=f"policy file {path}")
