"""The CLI's manners: --version, usage on a missing argument, help without type tags, stdin prompts, ad hoc names,
did-you-mean for a mistyped model id."""

from __future__ import annotations

import io
from importlib.metadata import version

import pytest

from llmbench.cli.evaluate import adhoc_name
from llmbench.store import Store


def test_version_and_usage_on_a_missing_argument(cli) -> None:
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"llmbench {version('llmbench')}"
    missing = cli("route", "policy.json")
    assert missing.returncode == 2 and "Usage: llmbench route" in missing.stderr
    assert "Missing argument 'prompt'" in missing.stderr and "MissingParameter" not in missing.stderr


def test_help_has_no_type_tags(cli) -> None:
    text = cli("eval", "--help").stdout
    assert (
        "--max-cost" in text and "<float>" not in text and "<list[str]>" not in text and "<bool>" not in text
    )


def test_complete_reads_the_prompt_from_stdin(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("what is this?\n"))
    done = cli("complete", "sim:gpt-4o", "-")
    assert done.returncode == 0 and "13-character prompt" in done.stdout  # the trailing newline is dropped
    monkeypatch.setattr("sys.stdin", io.StringIO("   "))
    empty = cli("complete", "sim:gpt-4o", "-")
    assert empty.returncode == 2 and "stdin is empty" in empty.stderr


def test_ad_hoc_evals_are_named_from_datasets_and_models_and_never_mixed(cli, tmp_path) -> None:
    store = tmp_path / "runs.duckdb"
    base = ["eval", "--store", store, "--no-track", "--no-progress", "--limit", "2"]
    assert cli(*base, "-d", "arithmetic", "-m", "sim:gpt-4o").returncode == 0
    assert cli(*base, "-d", "factual", "-m", "sim:gpt-4o").returncode == 0
    with Store.open(store, read_only=True) as st:
        names = set(st.experiments_frame()["name"])
    assert names == {"arithmetic__sim:gpt-4o", "factual__sim:gpt-4o"}
    long = adhoc_name([f"datasets/set-{i}.jsonl" for i in range(20)], ["openai:gpt-4o-mini"])
    assert len(long) <= 80 and long != adhoc_name(
        [f"datasets/set-{i}.jsonl" for i in range(21)], ["openai:gpt-4o-mini"]
    )


def test_a_mistyped_model_id_gets_a_did_you_mean_before_any_call(
    cli, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-FAKEKEY-unused-000000")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: the call fails fast
    done = cli("eval", "-d", "arithmetic", "-m", "openai:gpt-4o-mni", "--limit", "1", "--store", tmp_path / "s.duckdb",
               "--no-track", "--no-progress")  # fmt: skip
    assert (
        "no price is known for openai:gpt-4o-mni" in done.stdout
        and "did you mean openai:gpt-4o-mini" in done.stdout
    )


def test_tools_run_without_a_key_says_so_once_and_logs_the_failed_turn(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    store = tmp_path / "t.duckdb"
    done = cli("tools", "run", "openai:gpt-4o-mini", "hi", "--store", store, "--no-track")
    said = (done.stdout + done.stderr).count("no API key")
    assert done.returncode == 2 and said == 1, (done.stdout, done.stderr)
    with Store.open(store, read_only=True) as st:
        assert list(st.tool_steps_frame("tools-cli")["kind"]) == ["error"]  # still in the audit trail


def test_eval_without_a_key_stops_before_recording_anything(cli, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "ds.jsonl").write_text('{"id": "a", "input": "1 + 1?", "reference": "2"}\n')
    store = tmp_path / "runs.duckdb"
    done = cli("eval", "-d", tmp_path / "ds.jsonl", "-m", "openai:gpt-4o-mini", "--store", store, "--no-progress")
    assert done.returncode == 2 and (done.stdout + done.stderr).count("no API key") == 1
    with Store.open(store, read_only=True) as st:
        assert st.experiments_frame().empty  # no experiment, no item, no call row
    assert not (tmp_path / "mlflow.db").exists()  # and no MLflow run
