"""Router candidates found by name: a new one is one module, the policy stores blends by name, and policies
written before names (version 1) load and decide as they did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from helpers import synthetic_frame

from llmbench.errors import ConfigError, DataError
from llmbench.router import RouterEstimator, RouterPolicy, routing_data, split_by_prompt
from llmbench.router.candidates import CANDIDATES, Query, Shape, Training, ordered
from llmbench.router.policy_file import encode_array, read_policy, write_policy

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def split():
    return split_by_prompt(routing_data(synthetic_frame()), test_size=0.3, seed=7)


def test_the_builtin_candidates_are_found_by_name_simplest_first() -> None:
    assert [c.name for c in ordered()][:4] == ["model prior", "task prior", "prompt ridge", "kNN"]
    assert CANDIDATES.get("KNN").name == "kNN"  # names compare without case
    with pytest.raises(ConfigError, match="did you mean 'knn'"):
        CANDIDATES.get("knnn")
    with pytest.raises(ConfigError, match="unknown router candidate"):
        RouterEstimator(candidates=["task prior", "forest"]).fit(routing_data(synthetic_frame()))


def test_a_version_1_policy_loads_and_decides_as_the_code_that_wrote_it() -> None:
    """`policy_v1.json` and its decisions were written by commit f5e3ac2 (the last to write version 1): a ridge, a
    kNN index and a (tasks, 3) blend of all three candidates at the top level of the policy."""
    raw, _ = read_policy(DATA / "policy_v1.json")
    assert {"residual", "knn", "blend"} <= raw.keys() and "sections" not in raw["candidates"]
    recorded = json.loads((DATA / "policy_v1_decisions.json").read_text())
    policy = RouterPolicy.load(DATA / "policy_v1.json")
    assert [c.name for c in policy.candidates] == ["task prior", "prompt ridge", "kNN"]
    served = policy.route_many(recorded["prompts"])
    assert [d.model for d in served] == [m for m, _, _ in recorded["decisions"]]
    for d, (_, quality, cost) in zip(served, recorded["decisions"], strict=True):
        assert d.expected_quality == pytest.approx(quality, abs=1e-12)
        assert d.expected_cost == pytest.approx(cost, rel=1e-12)


def _rewritten(tmp_path: Path, edit: Any) -> Path:
    raw, _ = read_policy(DATA / "policy_v1.json")
    edit(raw)
    write_policy(raw, tmp_path / "p.json")
    return tmp_path / "p.json"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.pop("knn"), "blends candidate 'kNN' but holds no section"),
        (lambda p: p["candidates"].update(blend={"forest": encode_array(np.ones(3))}), "'forest', which"),
        (lambda p: p["knn"].update(k=0), "section 'kNN': k"),
        (lambda p: p["residual"].update(kind="lasso"), "section 'prompt ridge': kind"),
        (lambda p: p["candidates"].update(blend={"task prior": p["task_quality"]}), "blend 'task prior'"),
    ],
)
def test_a_policy_naming_what_it_cannot_serve_is_refused(tmp_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        RouterPolicy.load(_rewritten(tmp_path, edit))


class _Mean:
    """A scratch candidate: every model is expected to score its training mean, whatever the prompt."""

    name: ClassVar[str] = "scratch mean"
    complexity: ClassVar[int] = 3

    def __init__(self, mean: np.ndarray | None = None) -> None:
        self.mean = mean

    def out_of_fold(self, train: Training) -> np.ndarray:
        out = np.empty_like(train.data.quality)
        for k in train.folds:
            out[train.fold == k] = np.nanmean(train.data.quality[train.fold != k], axis=0)
        return out

    def fit(self, train: Training) -> None:
        self.mean = np.nanmean(train.data.quality, axis=0)

    def query(self, query: Query) -> np.ndarray:
        assert self.mean is not None
        return np.tile(self.mean, (len(query.rows), 1))

    def section(self) -> dict[str, Any]:
        return {"mean": [float(v) for v in np.asarray(self.mean)]}

    @classmethod
    def from_section(cls, section: dict[str, Any], shape: Shape) -> _Mean:
        if len(section.get("mean", ())) != shape.models:
            raise DataError("scratch mean has the wrong length")
        return cls(np.asarray(section["mean"], dtype=float))


@pytest.fixture
def scratch():
    CANDIDATES.register(_Mean)
    yield _Mean
    CANDIDATES.unregister(_Mean.name)


def test_a_new_candidate_is_trained_exported_and_served_by_name(split, scratch, tmp_path: Path) -> None:
    train, test = split
    router = RouterEstimator(lambda_=100.0, cv=3, residual="off", candidates=["task prior", "scratch mean"])
    router.fit(train)
    assert set(router.blend_) == {"task prior", "scratch mean"} and "scratch mean" in router.candidate_scores_
    forced = RouterEstimator(lambda_=100.0, cv=3, candidates=["scratch mean"]).fit(train)
    forced.blend_ = {"task prior": np.full(3, 0.5), "scratch mean": np.full(3, 0.5)}
    forced.candidates_["scratch mean"] = fitted = _Mean()
    fitted.mean = np.nanmean(train.quality, axis=0)
    forced.export(tmp_path / "p.json")
    raw, _ = read_policy(tmp_path / "p.json")
    assert raw["candidates"]["sections"]["scratch mean"] == {"mean": fitted.section()["mean"]}
    served = RouterPolicy.load(tmp_path / "p.json")
    assert [c.name for c in served.candidates] == ["task prior", "scratch mean"]
    for a, b in zip(forced.decide(test.prompts), served.route_many(test.prompts), strict=True):
        assert a.model == b.model and a.expected_quality == pytest.approx(b.expected_quality, abs=1e-12)
    CANDIDATES.unregister("scratch mean")
    with pytest.raises(DataError, match="'scratch mean', which this llmbench does not know"):
        RouterPolicy.load(tmp_path / "p.json")
