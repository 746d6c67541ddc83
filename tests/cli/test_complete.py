"""`llmbench complete` as a user runs it: the real console script in a subprocess against loopback servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import FAKE_OPENAI_KEY, CliResult

from llmbench.testing import Interaction

M = 1_000_000
SCRIPT = Path(sys.executable).with_name("llmbench")


def script(
    *args: str, cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `llmbench` script (or `python -m llmbench` when it is not installed)."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "llmbench"]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LLMBENCH_CONFIG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    }
    env.update(env_extra or {})
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def run(cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """`llmbench ...` in this process with no config file and no provider keys but those given."""
    for name in ("LLMBENCH_CONFIG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> CliResult:
        return cli(*args, cwd=cwd, env=env_extra)

    return invoke


@pytest.mark.slow
def test_openai_model_against_a_loopback_server(fake_openai_server, tmp_path):
    # the installed console script itself, in a child process: the one end-to-end check of the entry point
    out = script(
        "complete", "openai:gpt-4o-mini", "hi", "--base-url", fake_openai_server.url + "/v1", "--json",
        cwd=tmp_path, env_extra={"OPENAI_API_KEY": FAKE_OPENAI_KEY},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    # The fake server echoes the prompt and counts words: 1 prompt word, reply "Echo: hi" = 2 words.
    assert data["text"] == "Echo: hi" and data["stop_reason"] == "stop"
    assert data["usage"]["input_tokens"] == 1 and data["usage"]["output_tokens"] == 2
    # gpt-4o-mini: 1 * $0.15/M + 2 * $0.60/M = 0.15 + 1.20 = 1.35 $/M
    assert data["cost_usd"] == pytest.approx(1.35 / M)
    assert data["attempts"] == 1 and data["model_id"] == "openai:gpt-4o-mini"
    [request] = fake_openai_server.requests
    assert request.path == "/v1/chat/completions" and request.json["model"] == "gpt-4o-mini"
    assert FAKE_OPENAI_KEY not in out.stdout + out.stderr


def test_anthropic_model_against_an_anthropic_compatible_server(fake_openai_server, tmp_path, run):
    out = run(
        "complete", "anthropic:claude-3-5-haiku-latest", "hello there", "--system", "Be brief.",
        "--base-url", fake_openai_server.url, "--max-tokens", "50", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    # prompt words: system "Be brief." (2) + user "hello there" (2) = 4; reply "Echo: hello there" = 3 words
    assert data["text"] == "Echo: hello there"
    assert (data["usage"]["input_tokens"], data["usage"]["output_tokens"]) == (4, 3)
    # claude-3-5-haiku: 4 * $0.80/M + 3 * $4.00/M = 3.2 + 12 = 15.2 $/M
    assert data["cost_usd"] == pytest.approx(15.2 / M)
    [request] = fake_openai_server.requests
    assert request.path == "/v1/messages"
    assert request.json["system"] == "Be brief." and request.json["max_tokens"] == 50


def test_plain_output_is_just_the_text(fake_openai_server, tmp_path, run):
    out = run(
        "complete",
        "openai:gpt-4o-mini",
        "say this",
        "--base-url",
        fake_openai_server.url + "/v1",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Echo: say this\n"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "nope:some-model"])
def test_bad_model_id_is_one_clear_line(tmp_path, model, run):
    out = run("complete", model, "hi", cwd=tmp_path)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "'provider:model'" in lines[0] or "unknown provider 'nope'" in lines[0]
    assert out.stdout == ""


def test_provider_failure_is_one_line_without_the_key(recorded_server, tmp_path, run):
    key = "sk-test-CLI-secret-value-123456"
    body = {"error": {"message": f"Incorrect API key provided: {key}.", "type": "invalid_request_error"}}
    recorded_server.add(Interaction.error(401, body))
    out = run(
        "complete", "openai:gpt-4o-mini", "hi", "--base-url", recorded_server.url + "/v1", "--retries", "1",
        cwd=tmp_path, env_extra={"OPENAI_API_KEY": key},
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error:") and "401" in out.stderr and "Incorrect API key" in out.stderr
    assert key not in out.stderr + out.stdout
