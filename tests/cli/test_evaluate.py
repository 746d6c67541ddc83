"""`llmbench eval` and `llmbench runs` as a user runs them: real subprocesses, a real DuckDB file, loopback APIs.

Bad experiment files and datasets must give one clear line, a non-zero exit and leave the store untouched;
fake API keys must never reach the store, MLflow or the terminal; `--max-cost` must stop cleanly.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import CliResult

from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer, Interaction

ROOT = Path(__file__).resolve().parents[2]
OPENAI_KEY = "sk-test-FAKEKEY-cli-openai-00000000"
PLAIN_KEY = "plainFAKEKEY-anthropic-no-prefix-4242"  # no vendor shape: only registration can redact it
PRICE_IN, PRICE_OUT = 1000.0, 2000.0  # USD per million tokens, the test's own prices


@pytest.fixture
def llmbench(cli: Callable[..., CliResult]) -> Callable[..., CliResult]:
    """Run the real CLI entry point in this process (cwd and environment set for the call)."""

    def invoke(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 0) -> CliResult:
        return cli(*args, cwd=cwd, env={"NO_COLOR": "1", **(env or {})})

    return invoke


def failing_main(
    *args: str, cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> subprocess.CompletedProcess[str]:
    """Run the CLI entry point in this process (faster than a child) for a command that must fail."""
    from llmbench.cli import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["llmbench", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), exit_info.value.code, out.out, out.err)


def write_dataset(path: Path, n: int, words: int = 6) -> Path:
    """n items whose prompts all have `words` words."""
    lines = [
        json.dumps(
            {"id": f"it-{i:03d}", "input": " ".join([f"q{i}"] + ["word"] * (words - 1)), "reference": "x"}
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def project(tmp: Path, url: str, *, n: int = 20, models: list[str] | None = None, **extra: Any) -> Path:
    """A working folder: llmbench.toml with loopback endpoints and test prices, a dataset and an experiment."""
    (tmp / "prices.yaml").write_text(
        "models:\n"
        + "".join(
            f'  "{m}": {{input: {PRICE_IN}, output: {PRICE_OUT}}}\n'
            for m in ("fakeoa:gpt-4o-mini", "fakeant:claude-3-5-haiku")
        )
    )
    (tmp / "llmbench.toml").write_text(
        'price_file = "prices.yaml"\n'
        f'[endpoints.fakeoa]\nbase_url = "{url}/v1"\napi_key_env = "OPENAI_API_KEY"\n'
        f'[endpoints.fakeant]\nkind = "anthropic"\nbase_url = "{url}"\napi_key_env = "ANTHROPIC_API_KEY"\n'
    )
    write_dataset(tmp / "ds.jsonl", n)
    exp = {"name": "cli-fake", "datasets": ["ds.jsonl"], "models": models or ["fakeoa:gpt-4o-mini"],
           "scorer": "exact_match", "params": {"max_tokens": 128}, "concurrency": 4, **extra}  # fmt: skip
    (tmp / "exp.yaml").write_text(json.dumps(exp))  # JSON is YAML
    return tmp / "exp.yaml"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    """The error of a failed command: one `error:` line (a dataset's problems may follow, one indented line
    each), no traceback. Returns the whole message."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), done.stderr
    assert all(line.startswith("  line ") for line in lines[1:]), done.stderr
    return "\n".join(lines)


# -- malformed input: one line, non-zero exit, nothing written --------------------------------------------------

GOOD = {"name": "bad-input", "datasets": ["ds.jsonl"], "models": ["sim:gpt-4o"]}
CASES = {
    "bad-yaml": ("name: x\ndatasets: [ds.jsonl\nmodels: [sim:gpt-4o]\n", "YAML"),
    "unknown-key": (json.dumps({**GOOD, "modelz": ["sim:gpt-4o"]}), "modelz"),
    "bad-model-id": (json.dumps({**GOOD, "models": ["gpt-4o"]}), "gpt-4o"),
    "unknown-provider": (json.dumps({**GOOD, "models": ["nosuch:model"]}), "nosuch"),
    "unknown-sim-model": (json.dumps({**GOOD, "models": ["sim:gpt-99"]}), "gpt-99"),
    "missing-dataset": (json.dumps({**GOOD, "datasets": ["missing.jsonl"]}), "missing.jsonl"),
    "line-without-input": (json.dumps({**GOOD, "datasets": ["broken.jsonl"]}), "input"),
    "negative-budget": (json.dumps({**GOOD, "max_cost": -1}), "max_cost"),
}


@pytest.fixture(scope="module")
def existing_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file that already holds an experiment (closed, so its bytes are stable)."""
    path = tmp_path_factory.mktemp("store") / "runs.duckdb"
    with Store.open(path) as st:
        st.create_experiment("earlier", config={"models": ["sim:gpt-4o"]}, source="simulated")
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_one_line_and_store_unchanged(
    case: str, tmp_path: Path, existing_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    text, mentions = CASES[case]
    write_dataset(tmp_path / "ds.jsonl", 3)
    (tmp_path / "broken.jsonl").write_text(
        '{"id": "a", "input": "fine"}\n{"id": "b", "reference": "no input"}\n'
    )
    (tmp_path / "exp.yaml").write_text(text)
    store = tmp_path / "runs.duckdb"
    store.write_bytes(existing_store.read_bytes())
    before = digest(store)
    args = ("eval", "exp.yaml", "--store", str(store), "--no-track", "--no-progress")
    done = failing_main(*args, cwd=tmp_path, monkeypatch=monkeypatch, capsys=capsys)
    line = one_clear_line(done)
    assert mentions in line, line
    assert digest(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "broken.jsonl",
        "ds.jsonl",
        "exp.yaml",
        "runs.duckdb",
    ]


@pytest.mark.parametrize("case", ["unknown-provider", "missing-dataset", "line-without-input"])
def test_malformed_input_creates_no_store(case: str, tmp_path: Path, llmbench) -> None:
    # A real child process here: the installed entry point, its exit code and its stderr.
    text, _ = CASES[case]
    write_dataset(tmp_path / "ds.jsonl", 3)
    (tmp_path / "broken.jsonl").write_text(
        '{"id": "a", "input": "fine"}\n{"id": "b", "reference": "no input"}\n'
    )
    (tmp_path / "exp.yaml").write_text(text)
    done = llmbench("eval", "exp.yaml", "--store", "new.duckdb", "--no-track", "--no-progress", cwd=tmp_path)
    one_clear_line(done)
    assert not list(tmp_path.glob("new.duckdb*"))


def test_missing_experiment_file(tmp_path: Path, llmbench) -> None:
    done = llmbench("eval", "nope.yaml", "--store", "s.duckdb", "--no-track", cwd=tmp_path)
    assert "nope.yaml" in one_clear_line(done)
    assert not list(tmp_path.iterdir())


# -- keys never leak ---------------------------------------------------------------------------------------------


class EchoKeyServer(FakeOpenAIServer):
    """Answers the first item's requests (both models) with a 401 that echoes the key it was sent, as some
    gateways do."""

    def respond(self, request: Any) -> Interaction:
        if b"q0 " in request.body:
            sent = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
                "Bearer "
            )
            body = {
                "error": {"type": "authentication_error", "message": f"Incorrect API key provided: {sent}."}
            }
            return Interaction.json(body, status=401)
        return super().respond(request)


@pytest.mark.slow
def test_fake_keys_never_reach_store_mlflow_or_output(tmp_path: Path, llmbench) -> None:
    with EchoKeyServer(latency_s=0.0) as server:
        exp = project(tmp_path, server.url, n=12, models=["fakeoa:gpt-4o-mini", "fakeant:claude-3-5-haiku"])
        env = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": PLAIN_KEY,
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}  # fmt: skip
        done = llmbench(
            "eval", str(exp), "--store", "runs.duckdb", "--wait-for-mlflow", cwd=tmp_path, env=env
        )
        sent = [r.headers.get("x-api-key") or r.headers.get("authorization", "") for r in server.requests]
    # A rejected key cannot heal: the run stops at once, says why, and exits 3 (not every item finished).
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Stopped: AuthenticationError" in done.stdout
    # The server really did get (and echo) both keys, so there was something to leak.
    assert any(OPENAI_KEY in s for s in sent) and any(PLAIN_KEY in s for s in sent)
    assert "MLflow run" in done.stdout, done.stdout
    output = done.stdout + done.stderr
    for key in (OPENAI_KEY, PLAIN_KEY):
        assert key not in output
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        calls = st.calls_frame("cli-fake")
        text_dump = st.sql("SELECT * FROM calls").to_csv() + st.sql("SELECT * FROM experiments").to_csv()
    auth = calls[calls["status_code"] == 401]
    assert len(auth) >= 2 and auth["error_message"].str.contains("REDACTED").all()
    for key in (OPENAI_KEY, PLAIN_KEY):
        assert key not in text_dump
    # Byte level: the DuckDB file, its WAL, the MLflow database and artifacts.
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".jsonl", ".yaml", ".toml")]
    assert any(p.name == "mlflow.db" for p in files) and any("mlruns" in p.parts for p in files)
    for p in files:
        data = p.read_bytes()
        for key in (OPENAI_KEY, PLAIN_KEY):
            assert key.encode() not in data, p


@pytest.mark.slow
def test_mlflow_logging_runs_in_the_background_without_the_keys(tmp_path: Path, llmbench) -> None:
    import time

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = tmp_path / "d.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"q{i}", "input": f"q{i}", "reference": "x"}) + "\n" for i in range(5))
    )
    done = llmbench("eval", "-d", str(data), "-m", "sim:gpt-4o-mini", "--name", "bg", "--store", "runs.duckdb",
                    "--no-progress", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": uri, "OPENAI_API_KEY": OPENAI_KEY})  # fmt: skip
    assert done.returncode == 0 and "in the background" in done.stdout
    [log] = list((tmp_path / ".llmbench" / "mlflow").glob("*/log.txt"))
    deadline = time.monotonic() + 120
    while "done" not in log.read_text() and "failed" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert log.read_text().startswith("done: MLflow run"), log.read_text()
    assert not list(log.parent.glob("*.parquet"))  # the frames handed over are removed once logged
    client = MlflowClient(uri)
    [run] = client.search_runs([e.experiment_id for e in client.search_experiments()],
                               filter_string="tags.`llmbench.child` = 'false'")  # fmt: skip
    assert run.info.run_name == "bg" and run.info.status == "FINISHED"
    for p in (tmp_path / ".llmbench").rglob("*"):
        if p.is_file():
            assert OPENAI_KEY.encode() not in p.read_bytes(), p


# -- budget -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_max_cost_stops_cleanly_and_a_higher_budget_finishes(tmp_path: Path, llmbench) -> None:
    per_call = (6 * PRICE_IN + 7 * PRICE_OUT) / 1e6  # 6 prompt words in, "Echo:" + 6 words out
    with FakeOpenAIServer(latency_s=0.05) as server:
        exp = project(tmp_path, server.url, n=30, providers={"fakeoa": {"concurrency": 2}})
        env = {"OPENAI_API_KEY": OPENAI_KEY}
        args = ("eval", str(exp), "--store", "runs.duckdb", "--no-track", "--no-progress")
        first = llmbench(*args, "--max-cost", f"{per_call * 4.5}", cwd=tmp_path, env=env)
        after_first = server.stats()["requests"]
        assert first.returncode == 3, first.stderr  # stopped cleanly, but not every item finished
        assert "Stopped at the budget" in first.stdout and "Traceback" not in first.stderr
        # 5 calls reach the budget; at most one more was already in flight in the other provider slot.
        assert 5 <= after_first <= 6
        second = llmbench(*args, "--max-cost", "10", cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        assert "Stopped at the budget" not in second.stdout
        assert server.stats()["requests"] == 30
    with Store.open(tmp_path / "runs.duckdb", read_only=True) as st:
        calls = st.calls_frame("cli-fake")
        assert len(calls) == 30 and calls["final"].all() and calls["run_key"].is_unique
        assert calls["cost_usd"].sum() == pytest.approx(30 * per_call)
        assert len(st.finished_keys("cli-fake")) == 30


# -- the default experiment and `llmbench runs` ------------------------------------------------------------------


@pytest.mark.slow
def test_default_run_then_runs_lists_it(tmp_path: Path, llmbench) -> None:
    store = str(tmp_path / "runs.duckdb")
    done = llmbench("eval", "--limit", "1", "--store", store, "--no-track", "--no-progress", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "SIMULATED" in done.stdout and "50 finished" in done.stdout  # 5 datasets x 5 models x 2 epochs
    assert "Is the top model really better?" in done.stdout  # the table comes with its paired comparisons
    listed = llmbench("runs", "--store", store, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "default-sim" in line)
    assert "simulated" in row and " 5 " in row  # 5 items, 5 models
    one = llmbench("runs", "default-sim", "--store", store, cwd=tmp_path)
    assert one.returncode == 0 and "sim:claude-sonnet-4" in one.stdout and "SIMULATED" in one.stdout
    assert (
        "Is the top model really better?" in one.stdout and "on 5" not in one.stdout
    )  # a table, not sentences
    assert "pass@2" in one.stdout and "verdict changes" in one.stdout  # two epochs per item
    as_json = json.loads(llmbench("runs", "default-sim", "--store", store, "--json", cwd=tmp_path).stdout)
    assert {r["model"] for r in as_json["summary"]} == {r["b"] for r in as_json["versus_best"]} | {
        as_json["versus_best"][0]["a"]
    }
    assert "Usage: llmbench runs" in llmbench("runs", "-h", cwd=tmp_path).stdout  # -h as well as --help
    no_batches = llmbench("batches", "-e", "nope", "--store", store, cwd=tmp_path)
    assert no_batches.returncode != 0 and "no experiment 'nope'" in one_clear_line(no_batches)
    missing = llmbench("runs", "nope", "--store", store, cwd=tmp_path)
    assert "nope" in one_clear_line(missing)
