"""Experiment and price files that would bill more than they say are refused before any call, with the field
named: a key given twice, a boolean where a number goes, parameters that change the priced model or what is
billed, out-of-range generation parameters, a price that overflows a cost. Through `llmbench eval` (in process)
against a loopback server that counts the requests it gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmbench.cli import run
from llmbench.testing import FakeOpenAIServer

BASE = "name: g\ndatasets: [ds.jsonl]\nmodels: [fake:m]\n"


def _project(
    tmp: Path, url: str, experiment: str, prices: str = "models:\n  'fake:m': {input: 1, output: 2}\n"
) -> Path:
    (tmp / "prices.yaml").write_text(prices)
    (tmp / "llmbench.toml").write_text(
        f'price_file = "prices.yaml"\n[endpoints.fake]\nbase_url = "{url}/v1"\n'
    )
    (tmp / "ds.jsonl").write_text(json.dumps({"id": "a", "input": "hi", "reference": "x"}) + "\n")
    (tmp / "exp.yaml").write_text(experiment)
    return tmp / "exp.yaml"


def _assert_refused(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], named: str, *files: str
) -> None:
    """`llmbench eval` of the project exits 2 naming `named`, and the server gets no request."""
    with FakeOpenAIServer(latency_s=0.0) as server:
        monkeypatch.chdir(tmp)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
        exp = _project(tmp, server.url, *files)
        code = run(["eval", str(exp), "--store", "r.duckdb", "--no-track", "--no-progress"])
        assert server.stats()["requests"] == 0
    err = capsys.readouterr().err
    assert code == 2 and named in err, err


@pytest.mark.parametrize(
    ("experiment", "named"),
    [
        (BASE + "max_cost: 0.0001\nconcurrency: 2\nmax_cost: 1000\n", "given twice"),
        (BASE + "params: {max_tokens: 5, max_tokens: 9000}\n", "given twice"),
        (BASE + "max_cost: true\n", "max_cost"),
        (BASE + "epochs: '3'\n", "epochs"),
        (BASE + "params: {model: gpt-4o-mini}\n", "params.model"),
        (BASE + "params: {n: 8}\n", "params.n"),
        (BASE + "params: {best_of: 3}\n", "params.best_of"),
        (BASE + "params: {service_tier: priority}\n", "params.service_tier"),
        (BASE + "params: {extra_body: {model: o1}}\n", "params.extra_body"),
        (BASE + "params: {max_tokens: -5}\n", "max_tokens"),
        (BASE + "params: {max_tokens: lots}\n", "max_tokens"),
        (BASE + "params: {max_tokens: true}\n", "max_tokens"),
        (BASE + "params: {temperature: 7}\n", "temperature"),
        (BASE + "providers: {fake: {concurrency: true}}\n", "concurrency"),
    ],
)
def test_an_experiment_that_would_bill_other_than_it_says_is_refused_before_any_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    experiment: str,
    named: str,
) -> None:
    _assert_refused(tmp_path, monkeypatch, capsys, named, experiment)


@pytest.mark.parametrize(
    ("prices", "named"),
    [
        ("models:\n  'fake:m': {input: 1.7e308, output: 2}\n", "input"),
        ("models:\n  'fake:m': {input: 1, output: 2}\n  'fake:m': {input: 0, output: 0}\n", "given twice"),
        ("models:\n  'fake:m': {input: true, output: 2}\n", "input"),
        ("models:\n  'fake:m': {input: 1, output: 2, cache_read: -1}\n", "cache_read"),
    ],
)
def test_a_price_file_that_could_misprice_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    prices: str,
    named: str,
) -> None:
    _assert_refused(tmp_path, monkeypatch, capsys, named, BASE + "max_cost: 1\n", prices)


def test_a_shipped_dataset_name_works_in_an_experiment_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(
        "name: shipped\ndatasets: [arithmetic]\nmodels: [sim:gpt-4o]\nlimit: 3\n"
    )
    assert run(["eval", "exp.yaml", "--store", "r.duckdb", "--no-track", "--no-progress"]) == 0
