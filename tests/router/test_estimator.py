"""The learned router on synthetic runs frames: splits, fitting, decisions, policy export and loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import WORDS, synthetic_frame

from llmbench.errors import ConfigError, DataError
from llmbench.router import RouterEstimator, RouterPolicy, routing_data, split_by_prompt
from llmbench.router.bootstrap import bootstrap_intervals
from llmbench.router.calibrate import calibrate_and_test
from llmbench.router.evaluate import evaluate_router
from llmbench.router.features import TfidfFeatures
from llmbench.router.policy_file import read_policy

ROOT = Path(__file__).resolve().parents[2]


# Three tasks with their own vocabulary; three models with known per-task accuracy and price.
@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture(scope="module")
def split(frame: pd.DataFrame):
    return split_by_prompt(routing_data(frame), test_size=0.3, seed=7)


@pytest.fixture(scope="module")
def fitted(split) -> RouterEstimator:
    train, _ = split
    return RouterEstimator(lambda_=100.0).fit(train)


def test_split_never_shares_a_prompt_and_is_reproducible(frame: pd.DataFrame) -> None:
    # Duplicate some prompt texts under new item ids: they must land on the same side.
    dup = frame[frame["item_id"].str.endswith(("-1", "-2", "-3"))].copy()
    dup["item_id"] = dup["item_id"] + "-again"
    data = routing_data(pd.concat([frame, dup]))
    train, test = split_by_prompt(data, test_size=0.3, seed=3)
    assert not set(train.prompts) & set(test.prompts)
    assert len(train) + len(test) == len(data)
    _, again_test = split_by_prompt(data, test_size=0.3, seed=3)
    assert list(again_test.item_ids) == list(test.item_ids)
    assert set(test.tasks) == set(WORDS)  # stratified by task
    _, other = split_by_prompt(data, test_size=0.3, seed=4)
    assert list(other.item_ids) != list(test.item_ids)


def test_fitted_attributes_and_params(fitted: RouterEstimator) -> None:
    assert fitted.models_ == ["big", "coder", "cheap"]
    assert list(fitted.classes_) == ["code", "math", "trivia"]
    assert fitted.get_params()["lambda_"] == 100.0
    # The per-task statistics recover the known accuracies roughly (42 train prompts per task).
    t = list(fitted.classes_).index("code")
    assert fitted.task_quality_[t, 1] > 0.7 and fitted.task_quality_[t, 2] < 0.45


def test_decisions_follow_task_and_lambda(fitted: RouterEstimator, split) -> None:
    _, test = split
    picks = fitted.predict(test.prompts)
    # At lambda = 100 quality/USD: code -> coder (0.88 - 0.1 vs 0.9 - 1.0), trivia -> cheap, math -> big
    # only if 0.9 - 1.0 beats coder's 0.3 - 0.1 (it does not), so math -> coder or cheap, never big.
    for task, pick in zip(test.tasks, picks, strict=True):
        if task == "code":
            assert pick == "coder"
        if task == "trivia":
            assert pick == "cheap"
    assert fitted.set_params(lambda_=0.0).predict([test.prompts[0]])[0] in ("big", "coder", "cheap")
    best_quality = fitted.predict(test.prompts)
    assert (best_quality == "big").mean() > 0.6  # without cost, the strongest model dominates
    fitted.set_params(lambda_=100.0)
    decision = fitted.route(test.prompts[0])
    assert [decision.model] + [f.model for f in decision.fallbacks] == sorted(
        ["big", "coder", "cheap"],
        key=lambda m: (
            -{decision.model: decision.utility, **{f.model: f.utility for f in decision.fallbacks}}[m]
        ),
    )


def test_chat_messages_route_like_their_last_user_text(fitted: RouterEstimator) -> None:
    text = "write a python function that returns a list"
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": text}]},
    ]
    assert fitted.route(messages) == fitted.route(text)


def test_threshold_mode_routes_by_expected_gain(split) -> None:
    train, test = split
    r = RouterEstimator(mode="threshold", strong="big", weak="cheap", threshold=0.3).fit(train)
    picks = r.predict(test.prompts)
    # gain big - cheap is ~0.7 on math/code, ~0.05 on trivia: only trivia stays on the weak model
    for task, pick in zip(test.tasks, picks, strict=True):
        assert pick == ("cheap" if task == "trivia" else "big")
    with pytest.raises(ConfigError):
        RouterEstimator(mode="nope").fit(train)


def test_export_load_round_trip_equals_trained_router(fitted: RouterEstimator, split, tmp_path: Path) -> None:
    _, test = split
    path = tmp_path / "policy.json"
    digest = fitted.export(path)
    loaded = RouterPolicy.load(path)
    assert loaded.sha256 == digest and loaded.models == fitted.models_
    trained = fitted.decide(test.prompts)
    served = loaded.route_many(test.prompts)
    for a, b in zip(trained, served, strict=True):
        assert a.model == b.model and a.task == b.task
        assert [f.model for f in a.fallbacks] == [f.model for f in b.fallbacks]
        assert a.expected_quality == pytest.approx(b.expected_quality, abs=1e-12)
        assert a.expected_cost == pytest.approx(b.expected_cost, rel=1e-12)


@pytest.mark.parametrize(
    ("classifier", "residual", "tasks"),
    [("sgd", "on", 3), ("naive_bayes", "off", 3), ("logistic", "on", 2), ("logistic", "on", 1)],
)
def test_round_trip_for_every_classifier_and_task_count(
    frame: pd.DataFrame, classifier: str, residual: str, tasks: int, tmp_path: Path
) -> None:
    kept = sorted(WORDS)[:tasks]
    data = routing_data(frame[frame["task"].isin(kept)])
    train, test = split_by_prompt(data, test_size=0.3, seed=1)
    router = RouterEstimator(lambda_=50.0, classifier=classifier, residual=residual, cv=3).fit(train)
    assert ("prompt ridge" in router.candidates_) == (residual == "on")
    router.export(tmp_path / "p.json")
    loaded = RouterPolicy.load(tmp_path / "p.json")
    for a, b in zip(router.decide(test.prompts), loaded.route_many(test.prompts), strict=True):
        assert (a.model, a.task) == (b.model, b.task)
        assert [f.model for f in a.fallbacks] == [f.model for f in b.fallbacks]
        assert a.expected_quality == pytest.approx(b.expected_quality, abs=1e-12)
        assert a.task_probability == pytest.approx(b.task_probability, abs=1e-12)


def test_numpy_features_equal_scikit_learn(split) -> None:
    train, test = split
    feats = TfidfFeatures(min_df=1).fit(train.prompts)
    dense = feats.transform(test.prompts).toarray()
    arrays = feats.to_arrays()
    for i, text in enumerate(test.prompts):
        idx, val = arrays.transform_one(text)
        row = np.zeros(dense.shape[1])
        row[idx] = val
        np.testing.assert_allclose(row, dense[i], atol=1e-12)


def test_policy_file_is_plain_json_without_code(fitted: RouterEstimator, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    fitted.export(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "llmbench-router-policy" and doc["version"] == 2
    policy = doc["policy"]
    for key in ("models", "tasks", "lambda", "features", "classifier", "task_cost", "prices", "fallbacks"):
        assert key in policy
    assert policy["features"]["vocabulary"] and policy["lambda"] == 100.0


def test_tampered_truncated_or_foreign_policy_raises_data_error(
    fitted: RouterEstimator, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    fitted.export(path)
    text = path.read_text()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(text.replace('"lambda":100.0', '"lambda":0.0'))
    assert tampered.read_text() != text
    with pytest.raises(DataError, match="hash"):
        RouterPolicy.load(tampered)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match="truncated"):
        RouterPolicy.load(truncated)
    reformatted = tmp_path / "reformatted.json"
    reformatted.write_text(json.dumps(json.loads(text), indent=1))
    with pytest.raises(DataError, match="re-formatted"):
        RouterPolicy.load(reformatted)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00\xff not json")
    with pytest.raises(DataError, match="not valid JSON"):
        RouterPolicy.load(garbage)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"hello": 1}))
    with pytest.raises(DataError, match="not an llmbench router policy"):
        RouterPolicy.load(foreign)
    with pytest.raises(DataError, match="cannot read"):
        RouterPolicy.load(tmp_path / "missing.json")
    # a consistent hash over an inconsistent body (someone re-hashed a broken edit) is still caught
    from llmbench.router.policy_file import write_policy

    policy, _ = read_policy(path)
    policy["task_quality"]["shape"] = [1, 1]
    broken = tmp_path / "broken.json"
    write_policy(policy, broken)
    with pytest.raises(DataError, match="task_quality"):
        RouterPolicy.load(broken)


def test_policy_loads_and_routes_without_scikit_learn_pandas_or_scipy(
    fitted: RouterEstimator, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    fitted.export(path)
    expected = fitted.route("write a python function that returns a list").model
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sklearn", "pandas", "scipy"):
            raise ImportError(name + " is blocked in this test: serving needs numpy only")
        return None
sys.meta_path.insert(0, Block())
from llmbench.router import RouterPolicy
d = RouterPolicy.load({str(path)!r}).route("write a python function that returns a list")
assert not any(m.split(".")[0] in ("sklearn", "pandas", "scipy") for m in sys.modules), "a training library was imported"
print(d.model)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_evaluation_table_has_every_baseline(split) -> None:
    train, test = split
    ev = evaluate_router(train, test, RouterEstimator(cv=0))
    names = set(ev.table["router"])
    assert {"big", "coder", "cheap", "random", "zero router", "router", "task prior", "oracle"} <= names
    assert any(n.startswith("kNN") for n in names)
    t = ev.table.set_index("router")
    # the oracle bounds everyone; every AIQ is an average quality in [0, 1]
    assert (t["AIQ"] <= t.loc["oracle", "AIQ"] + 1e-12).all() and t["AIQ"].between(0, 1).all()
    # the structure is learnable: the router beats every single model and the zero router
    assert t.loc["router", "AIQ"] > t.loc["zero router", "AIQ"]
    assert set(ev.per_task["task"]) == set(WORDS)
    # as bets: the zero router chosen with hindsight has none; the model prior (its bet) and fixed single
    # models do, never above their hindsight figure
    assert np.isnan(t.loc["zero router", "AIQ (bet)"])
    bets = t["AIQ (bet)"].dropna()
    assert {"model prior", "router", "task prior", "big"} <= set(bets.index)
    assert (bets <= t.loc[bets.index, "AIQ"] + 1e-12).all()
    assert t.loc["router", "AIQ (bet)"] > t.loc["model prior", "AIQ (bet)"]


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_more_prompts(split) -> None:
    train, test = split
    ev = evaluate_router(train, test, RouterEstimator(cv=0))
    ci = bootstrap_intervals(ev, n_boot=300, seed=1).set_index("router")
    point = ev.table.set_index("router")
    for name in ci.index:
        assert ci.loc[name, "AIQ low"] <= point.loc[name, "AIQ"] <= ci.loc[name, "AIQ high"], name
    # paired: the reference against itself differs by exactly nothing on every resample
    assert ci.loc["task prior", ["AIQ - task prior low", "AIQ - task prior high"]].tolist() == [0.0, 0.0]
    assert ci.loc["oracle", "AIQ - task prior low"] > 0
    # four copies of the same test prompts: the same decisions, an interval about half as wide
    big = evaluate_router(train, test.subset(np.tile(np.arange(len(test)), 4)), RouterEstimator(cv=0))
    ci4 = bootstrap_intervals(big, n_boot=300, seed=1).set_index("router")
    width = ci["AIQ high"] - ci["AIQ low"]
    width4 = ci4["AIQ high"] - ci4["AIQ low"]
    assert ((width4 / width).between(0.3, 0.7)).all(), (width4 / width).to_dict()
    with pytest.raises(ConfigError, match="reference"):
        bootstrap_intervals(ev, reference="nobody")
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_intervals(ev, n_boot=1)


def test_calibration_meets_a_budget_on_held_out_data(split) -> None:
    train, test = split
    router, cal = calibrate_and_test(RouterEstimator(cv=0), train, test, "budget", 2.0)
    assert cal.parameter == "lambda" and cal.calib["cost_per_1k"] <= 2.0
    assert set(cal.test) >= {"cost_per_1k", "quality", "strong_share", "met"}
    assert router.lambda_ == cal.setting
    with pytest.raises(ConfigError):
        calibrate_and_test(RouterEstimator(cv=0), train, test, "speed", 1.0)


def test_bad_frames_raise_data_errors() -> None:
    with pytest.raises(DataError, match="lacks columns"):
        RouterEstimator().fit(pd.DataFrame({"prompt": ["x"]}))
    bad = synthetic_frame(5)
    bad.loc[0, "score"] = 3.0
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        RouterEstimator().fit(bad)
    one_model = synthetic_frame(5)
    with pytest.raises(DataError, match="two models"):
        RouterEstimator().fit(one_model[one_model["model"] == "big"])
