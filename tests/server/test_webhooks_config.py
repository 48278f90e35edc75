"""Webhook endpoints from TOML: defaults, secrets from the environment, and clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hitl_core import AuditKind, InvalidInput
from hitl_server.webhook_config import (
    DEFAULT_EVENTS,
    InvalidWebhookConfig,
    WebhookEndpoint,
    load_webhooks,
    parse_webhooks,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "webhooks.toml"
    path.write_text(text)
    return path


def problems_of(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(InvalidWebhookConfig) as caught:
        load_webhooks(write(tmp_path, text))
    assert isinstance(caught.value, InvalidInput)
    return caught.value.problems


def test_endpoints_load_from_webhook_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_SECRET", "s3cret-from-env")
    path = write(
        tmp_path,
        """
[[webhook]]
name = "ops"
url = "https://ops.example.com/hitl"
secret_env = "OPS_SECRET"

[[webhook]]
name = "audit-sink"
url = "http://127.0.0.1:9000/hook"
secret = ["new-secret", "old-secret"]
events = ["decided", "executed"]
max_attempts = 2
timeout = "1m30s"
""",
    )
    ops, sink = load_webhooks(path)
    assert (ops.name, ops.url, ops.secrets, ops.secret_env) == (
        "ops",
        "https://ops.example.com/hitl",
        ["s3cret-from-env"],
        ("OPS_SECRET",),
    )
    assert ops.events == DEFAULT_EVENTS == {AuditKind.CREATED, AuditKind.DECIDED, AuditKind.EXPIRED}
    assert (ops.max_attempts, ops.timeout) == (6, timedelta(seconds=5))
    assert sink.secrets == ["new-secret", "old-secret"]
    assert sink.events == {AuditKind.DECIDED, AuditKind.EXECUTED}
    assert (sink.max_attempts, sink.timeout) == (2, timedelta(seconds=90))


def test_a_secret_never_shows_in_a_repr_or_a_dump() -> None:
    endpoint = WebhookEndpoint(name="ops", url="https://x.example/h", secret="hunter2", timeout=2.5)
    assert "hunter2" not in repr(endpoint)
    assert "hunter2" not in endpoint.model_dump_json()
    assert endpoint.secrets == ["hunter2"]
    assert endpoint.timeout == timedelta(seconds=2.5)


def test_a_missing_environment_variable_is_named(tmp_path: Path) -> None:
    [problem] = problems_of(
        '[[webhook]]\nname = "ops"\nurl = "https://x.example"\nsecret_env = "NOT_SET_ANYWHERE"\n',
        tmp_path,
    )
    assert problem.startswith("webhook[0] (ops): secret_env names NOT_SET_ANYWHERE")
    assert "export it" in problem


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('url = "https://x.example"', "(ops): a secret is required: set secret"),
        ('url = "https://x.example"\nsecret = ""', "secret: a secret cannot be empty"),
        ('url = "https://x.example"\nsecret = "s"\nsecret_env = "HOME"', "not both"),
        ('url = "ftp://x.example"\nsecret = "s"', "url: 'ftp://x.example' is not an http(s) URL"),
        ('url = "https://x.example"\nsecret = "s"\nevents = ["approved"]', "events[0]: Input"),
        ('url = "https://x.example"\nsecret = "s"\nevents = []', "at least one event kind"),
        ('url = "https://x.example"\nsecret = "s"\nmax_attempts = 0', "max_attempts: Input"),
        ('url = "https://x.example"\nsecret = "s"\ntimeout = "soon"', "'soon' is not a duration"),
        ('url = "https://x.example"\nsecret = "s"\ntimeout = 0', "longer than zero"),
        ('url = "https://x.example"\nsecret = "s"\nretries = 3', "retries: Extra inputs"),
    ],
)
def test_a_bad_endpoint_is_reported_with_its_place(
    tmp_path: Path, table: str, expected: str
) -> None:
    problems = problems_of(f'[[webhook]]\nname = "ops"\n{table}\n', tmp_path)
    assert len(problems) == 1
    assert problems[0].startswith("webhook[0] (ops)")
    assert expected in problems[0]


def test_every_problem_in_a_file_is_listed(tmp_path: Path) -> None:
    problems = problems_of(
        """
[[webhook]]
name = "ops"
url = "https://x.example"
secret = "s"

[[webhook]]
name = "bad name!"
url = "https://y.example"
secret = "s"

[[webhook]]
name = "ops"
url = "https://z.example"
secret = "s"
""",
        tmp_path,
    )
    assert [p.split(":")[0] for p in problems] == [
        "webhook[1] (bad name!).name",
        "two endpoints are named 'ops'; names must be unique",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[webhook]\nname = "ops"', "double brackets"),
        ("title = 'x'\n", "unknown top-level key(s) title"),
        ("", "no endpoints"),
        ("[[webhook", "not valid TOML"),
    ],
)
def test_a_file_of_the_wrong_shape_is_explained(tmp_path: Path, text: str, expected: str) -> None:
    [problem] = problems_of(text, tmp_path)
    assert expected in problem


def test_a_missing_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(InvalidWebhookConfig, match=r"nope\.toml: cannot read the file"):
        load_webhooks(tmp_path / "nope.toml")


def test_parse_accepts_an_already_parsed_document() -> None:
    [endpoint] = parse_webhooks({"webhook": [{"name": "a", "url": "http://h/", "secret": "s"}]})
    assert endpoint.name == "a"
