"""Small hostile or unlucky inputs: each is refused with a clear error before money is spent or memory is taken,
and failures are reported as failures (exit codes, MLflow status, the report), with no key in any message."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from llmbench.errors import ConfigError, DataError, redact, register_secret
from llmbench.evaluation import load_experiment
from llmbench.providers.pricing import PriceTable
from llmbench.router.policy import RouterPolicy
from llmbench.router.policy_file import read_policy, write_policy
from llmbench.store import Store
from llmbench.testing import FakeOpenAIServer, Interaction

BOMB = (
    'name: x\ndatasets: [d.jsonl]\nmodels: ["sim:gpt-4o"]\nparams:\n  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"  {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(8)
    )
)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(BOMB)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases .* are not allowed"):
        load_experiment(tmp_path / "bomb.yaml")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"epochs": 1_000_000_000}, "epochs"), ({"providers": {"openai": {"requests_per_minute": 0.000001}}}, "requests_per_minute"),
     ({"concurrency": 10**9}, "concurrency"), ({"max_cost": float("nan")}, "max_cost"), ({"timeout": 10**9}, "timeout")],
)  # fmt: skip
def test_config_numbers_have_ranges(tmp_path: Path, extra: dict[str, Any], field: str) -> None:
    raw = {"name": "x", "datasets": ["d.jsonl"], "models": ["sim:gpt-4o"], **extra}
    (tmp_path / "x.yaml").write_text(json.dumps(raw).replace("NaN", ".nan"))
    with pytest.raises(ConfigError, match=field):
        load_experiment(tmp_path / "x.yaml")


@pytest.mark.parametrize("body", ["input: -1, output: 1", "input: .nan, output: 1", "input: 1, output: .inf",
                                  "input: 1, output: 1, discount: 0.5"])  # fmt: skip
def test_price_files_are_validated(tmp_path: Path, body: str) -> None:
    (tmp_path / "p.yaml").write_text(f'models:\n  "x:y": {{{body}}}\n')
    with pytest.raises(ConfigError, match="price file"):
        PriceTable.from_file(tmp_path / "p.yaml")


def _eval_project(tmp: Path, url: str, rows: list[dict[str, Any]], **extra: Any) -> Path:
    (tmp / "llmbench.toml").write_text(
        f'[endpoints.loop]\nbase_url = "{url}/v1"\napi_key_env = "OPENAI_API_KEY"\n'
    )
    (tmp / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    exp = {
        "name": "guard",
        "datasets": ["d.jsonl"],
        "models": ["loop:model"],
        "scorer": "exact_match",
        **extra,
    }
    (tmp / "exp.yaml").write_text(json.dumps(exp))
    return tmp / "exp.yaml"


ROWS = [{"id": f"i{i}", "input": f"question {i}", "reference": "x"} for i in range(5)]


def test_a_budget_with_an_unpriced_model_refuses_to_start(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-guard-000000000000")
    with FakeOpenAIServer(latency_s=0.0) as server:
        exp = _eval_project(tmp_path, server.url, ROWS)
        out = cli("eval", exp, "--store", "s.duckdb", "--max-cost", "0.000001", "--no-track", "--no-progress")
        assert out.returncode == 2 and "no price is known for loop:model" in out.stderr
        assert "--allow-unpriced" in out.stderr and server.stats()["requests"] == 0
        out = cli("eval", exp, "--store", "s.duckdb", "--max-cost", "0.000001", "--allow-unpriced", "--no-track",
                  "--no-progress")  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        assert server.stats()["requests"] == 5


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [({"metadata": {"tools": [{"name": "no dots.allowed"}]}}, "metadata\\['tools'\\]"),
     ({"reference": "(unclosed", "scorer": "regex"}, "bad pattern"),
     ({"reference": {"schema": {"type": "nonsense"}}, "scorer": "json_schema"}, "JSON Schema is invalid")],
)  # fmt: skip
def test_a_bad_item_is_found_before_the_first_paid_call(
    tmp_path: Path, cli, monkeypatch, bad_row, message
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-guard-000000000000")
    rows = [dict(r) for r in ROWS]
    rows[3].update(bad_row)
    with FakeOpenAIServer(latency_s=0.0) as server:
        exp = _eval_project(tmp_path, server.url, rows)
        body = json.loads(exp.read_text())
        body.pop("scorer")  # each item's own scorer
        exp.write_text(json.dumps(body))
        out = cli("eval", exp, "--store", "s.duckdb", "--no-track", "--no-progress")
        assert out.returncode == 2, out.stdout + out.stderr
        assert server.stats()["requests"] == 0
    import re

    assert re.search(message, out.stderr), out.stderr


@pytest.mark.slow
def test_an_all_failed_run_exits_non_zero_at_once_and_says_why(tmp_path: Path, cli, monkeypatch) -> None:
    """A key the API refuses (401 on every call): the run stops at once, exits non-zero and says why. (A key that
    is missing altogether stops before anything is recorded: tests/cli/test_basics.py.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-refused-000000000000")
    (tmp_path / "llmbench.toml").write_text("")
    rows = [{"id": f"i{i}", "input": f"question {i}", "reference": "x"} for i in range(40)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.monotonic()
    with FakeOpenAIServer(latency_s=0.0, faults={"401": 1.0}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        out = cli(
            "eval",
            "-d",
            "d.jsonl",
            "-m",
            "openai:gpt-4o-mini",
            "--store",
            "s.duckdb",
            "--no-progress",
            "--wait-for-mlflow",
        )  # logged before returning, so the run's final status can be read
    assert out.returncode == 3, out.stdout + out.stderr
    assert "Stopped: AuthenticationError" in out.stdout
    assert time.monotonic() - started < 60
    with Store.open(tmp_path / "s.duckdb", read_only=True) as st:
        failed = st.calls_frame()
        assert len(failed) < 40  # stopped, not 40 failures one by one
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs and all(r.info.status in ("FINISHED", "FAILED") for r in runs)
    report = tmp_path / "r.html"
    names = Store.open(tmp_path / "s.duckdb", read_only=True)
    try:
        experiment = names.experiments_frame()["name"].iloc[0]
    finally:
        names.close()
    done = cli("report", experiment, "--store", "s.duckdb", "-o", report)
    assert done.returncode == 0, done.stderr
    text = report.read_text()
    assert "no call succeeded" in text and "unknown prices" not in text
    assert "AuthenticationError" in text and str(failed["error_message"].iloc[0])[:40] in text  # its own message
    assert "sk-test-refused" not in text  # the key never reaches the report


def test_ui_on_a_busy_port_fails_clearly(cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = cli("ui", "--port", str(port))
    assert out.returncode == 2 and "already in use" in out.stderr and "http://" not in out.stdout


class MaskingServer(FakeOpenAIServer):
    """Rejects every key, echoing it masked the way many gateways do: first 8 and last 4 characters."""

    def respond(self, request: Any) -> Interaction:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        masked = key[:8] + "*" * 10 + key[-4:]
        body = {
            "error": {"type": "invalid_request_error", "message": f"Incorrect API key provided: {masked}."}
        }
        return Interaction.json(body, status=401)


def test_masked_and_unshaped_keys_are_redacted(tmp_path: Path, cli, monkeypatch) -> None:
    key = "CANARYplain-key-without-vendor-shape-1xyz"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with MaskingServer(latency_s=0.0) as server:
        exp = _eval_project(tmp_path, server.url, ROWS[:2])
        out = cli("eval", exp, "--store", "s.duckdb", "--no-track", "--no-progress")
    masked = key[:8] + "*" * 10 + key[-4:]
    assert out.returncode == 3
    with Store.open(tmp_path / "s.duckdb", read_only=True) as st:
        messages = " ".join(st.calls_frame()["error_message"].dropna())
    assert "Incorrect API key provided" in messages
    for text in (messages, out.stdout, out.stderr):
        assert masked not in text and key[:8] not in text
    register_secret("another-secret-value-0000ABCD")
    assert redact("got anot•••••ABCD back") == "got [REDACTED] back"


def _policy(tmp_path: Path) -> tuple[dict, Path]:
    from helpers import synthetic_frame

    from llmbench.router import RouterEstimator

    path = tmp_path / "p.json"
    RouterEstimator(cv=0).fit(synthetic_frame(10)).export(path)
    return read_policy(path)[0], path


@pytest.mark.parametrize(
    ("edit", "field"),
    [(lambda p: p["features"].update(head_chars=10**9), "head_chars"),
     (lambda p: p["features"].update(char_bits=26), "char_bits"),
     (lambda p: p["features"].update(char_ngram_range=[1, 400]), "char_ngram_range"),
     (lambda p: p.update({"lambda": float("nan")}), "lambda"),
     (lambda p: p.update({"lambda": -1}), "lambda")],
)  # fmt: skip
def test_hostile_policy_fields_are_refused_before_allocation(tmp_path: Path, edit: Any, field: str) -> None:
    policy, path = _policy(tmp_path)
    edit(policy)
    text = json.dumps(policy)  # NaN as json writes it; the body must still be rewritten with a fresh hash
    policy = json.loads(text)
    try:
        write_policy(policy, path)  # an attacker recomputes the (unkeyed) hash
    except ValueError:  # canonical JSON refuses NaN: write the file by hand, as an attacker would
        import hashlib

        body = json.dumps(policy, sort_keys=True, separators=(",", ":")).encode()
        head = f'{{"format":"llmbench-router-policy","version":1,"sha256":"{hashlib.sha256(body).hexdigest()}","policy":'
        path.write_bytes(head.encode() + body + b"}\n")
    with pytest.raises(DataError, match=field):
        RouterPolicy.load(path)


def test_nan_weights_are_refused(tmp_path: Path) -> None:
    import base64

    import numpy as np

    policy, path = _policy(tmp_path)
    idf = np.frombuffer(base64.b64decode(policy["features"]["word_idf"]["b64"]), dtype="<f8").copy()
    idf[0] = np.nan
    policy["features"]["word_idf"]["b64"] = base64.b64encode(idf.tobytes()).decode()
    write_policy(policy, path)
    with pytest.raises(DataError, match=r"word_idf.*non-finite"):
        RouterPolicy.load(path)
