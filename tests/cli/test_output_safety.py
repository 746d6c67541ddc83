"""Upstream error text with rich markup (`[/]`, `[bold]`) and terminal escape sequences reaches the user as plain
text: the CLI neither dies with MarkupError (hiding the real cause) nor lets the escapes drive the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmbench.cli import run
from llmbench.testing.cassettes import Interaction, RecordedRequest
from llmbench.testing.server import LoopbackServer

HOSTILE = "bad key [/] and [bold]loud[/bold] \x1b[2J\x1b]0;pwned\x07 \ud800 end"


class _Refusing(LoopbackServer):
    def respond(self, request: RecordedRequest) -> Interaction:
        return Interaction.json({"error": {"message": HOSTILE, "type": "invalid_api_key"}}, status=401)


def test_upstream_markup_and_escapes_print_as_plain_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    (tmp_path / "ds.jsonl").write_text(json.dumps({"id": "a", "input": "hi", "reference": "x"}) + "\n")
    with _Refusing() as server:
        (tmp_path / "llmbench.toml").write_text(
            f'[endpoints.fake]\nbase_url = "{server.url}/v1"\nfree = true\n'
        )
        code = run(["eval", "--dataset", "ds.jsonl", "--model", "fake:m", "--store", "r.duckdb", "--no-track",
                    "--no-progress"])  # fmt: skip
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 3, text
    assert "Stopped: AuthenticationError" in text and "[/]" in text and "[bold]loud[/bold]" in text
    assert "\x1b" not in text and "\x07" not in text and "MarkupError" not in text
