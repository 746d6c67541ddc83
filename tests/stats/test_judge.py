"""Judge calibration (`llmbench.stats.judge`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from llmbench.errors import ConfigError, DataError
from llmbench.stats.judge import NO_VERDICT, calibrate_pairwise


def _verdicts(seed: int, n: int = 200, accuracy: float = 0.8, bias: float = 0.2) -> pd.DataFrame:
    """A judge right `accuracy` of the time, which picks the first-shown answer `bias` of the time regardless,
    and leaves a few verdicts unparsed."""
    rng = np.random.default_rng(seed)
    gold = rng.choice(["1", "2"], n)
    right = np.where(rng.random(n) < accuracy, gold, np.where(gold == "1", "2", "1"))
    first = np.where(rng.random(n) < bias, "1", right)
    swapped = np.where(rng.random(n) < bias, "2", right)  # the first-shown answer is "2" once swapped
    first = np.where(rng.random(n) < 0.03, None, first)
    return pd.DataFrame({"gold": gold, "first": first, "swapped": swapped})


@pytest.mark.parametrize("seed", range(5))
def test_kappa_is_scikit_learns_and_the_counts_are_the_definitions(seed: int) -> None:
    v = _verdicts(seed)
    cal = calibrate_pairwise(v, n_boot=200)
    first = v["first"].fillna(NO_VERDICT).to_numpy()
    assert cal.kappa_first == cohen_kappa_score(first, v["gold"])
    assert cal.kappa_swapped == cohen_kappa_score(v["swapped"], v["gold"])
    assert cal.kappa_first_low <= cal.kappa_first <= cal.kappa_first_high
    assert cal.correct_first == int((first == v["gold"]).sum())
    assert cal.correct_both == int(((first == v["gold"]) & (v["swapped"] == v["gold"])).sum())
    assert cal.positional_agreement == int((first == v["swapped"]).sum())
    assert sum(sum(row.values()) for row in cal.confusion.values()) == cal.items == len(v)
    assert NO_VERDICT in {k for row in cal.confusion.values() for k in row}


def test_position_bias_lowers_agreement_when_answers_swap() -> None:
    fair, biased = calibrate_pairwise(_verdicts(0, bias=0.0)), calibrate_pairwise(_verdicts(0, bias=0.4))
    assert fair.positional_agreement > biased.positional_agreement
    assert "same verdict when the answers swap" in biased.sentence()


def test_a_judge_without_swapped_verdicts_is_calibrated_on_one_order() -> None:
    cal = calibrate_pairwise(_verdicts(1).drop(columns="swapped"))
    assert cal.correct_first == cal.correct_swapped and cal.positional_agreement == cal.items


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"gold": ["1"]}), "lack column 'first'"),
        (pd.DataFrame({"gold": [], "first": []}), "no verdicts"),
        (pd.DataFrame({"gold": ["1", None], "first": ["1", "2"]}), "row 1: gold label is missing"),
    ],
)
def test_verdicts_that_cannot_calibrate_are_refused_by_name(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message):
        calibrate_pairwise(frame)


def test_the_bootstrap_kappa_is_scikit_learns_on_each_resample() -> None:
    from llmbench.stats.judge import kappa_interval

    v = _verdicts(7, n=60)
    first, gold = v["first"].fillna(NO_VERDICT).to_numpy(), v["gold"].to_numpy()
    rng = np.random.default_rng(3)
    draws = [cohen_kappa_score(first[i], gold[i]) for i in (rng.integers(0, 60, 60) for _ in range(400))]
    low, high = kappa_interval(first, gold, n_boot=400, seed=3)
    assert (low, high) == pytest.approx((np.quantile(draws, 0.025), np.quantile(draws, 0.975)), abs=1e-12)


def test_the_note_says_how_well_a_judge_agrees_or_that_nobody_checked(tmp_path, cli) -> None:
    from llmbench.evaluation.config import load_experiment
    from llmbench.stats.judge import calibration_note

    assert calibration_note(None, None) is None  # no judge, nothing to say
    assert "is not calibrated against human labels" in str(calibration_note("openai:gpt-4o-mini", None))
    csv = tmp_path / "verdicts.csv"
    _verdicts(4, n=80).dropna().to_csv(csv, index=False)
    saved = tmp_path / "judge.json"
    out = cli("judge", "calibrate", "--verdicts", csv, "--save", saved, "--judge", "openai:gpt-4o-mini")
    assert out.returncode == 0, out.stderr
    experiment = tmp_path / "judged.yaml"
    experiment.write_text(
        "name: judged\ndatasets: [arithmetic]\nmodels: [sim:gpt-4o]\n"
        "judge_model: openai:gpt-4o-mini\njudge_calibration: judge.json\n"
    )
    config = load_experiment(
        experiment
    )  # the calibration is read into the config, stored with the experiment
    assert config.judge_calibration is not None and config.judge_calibration["judge"] == "openai:gpt-4o-mini"
    note = str(calibration_note(config.judge_model, config.judge_calibration))
    assert note.startswith("judge openai:gpt-4o-mini: agrees with human labels on") and "kappa" in note
    assert "calibrated as openai:gpt-4o-mini" not in note
    assert "calibrated as openai:gpt-4o-mini" in str(
        calibration_note("openai:gpt-4.1", config.judge_calibration)
    )
    missing = tmp_path / "missing.yaml"
    missing.write_text(experiment.read_text().replace("judge.json", "nope.json"))
    with pytest.raises(ConfigError, match=r"judge_calibration .*nope\.json: cannot read it"):
        load_experiment(missing)
