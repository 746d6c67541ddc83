"""LLMBar judge results (`llmbench.imports.llmbar`) and `llmbench judge calibrate` on them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from llmbench.errors import DataError
from llmbench.imports.llmbar import published_statistics, read_llmbar
from llmbench.stats.judge import calibrate_pairwise


def _write(root: Path, subset: str, judge: str, strategy: str, items: list[dict], stats: dict | None) -> None:
    folder = root / subset / "evaluators" / judge / strategy
    folder.mkdir(parents=True)
    (folder / "result.json.gz").write_bytes(gzip.compress(json.dumps(items).encode()))
    if stats is not None:
        (folder / "statistics.json").write_text(json.dumps(stats))


def _item(label: int, first: str | None, swapped: str | None, literal: bool) -> dict:
    results = [{"swap = False": {"winner": first}, "swap = True": {"winner": swapped}}]
    return {
        "input": "q",
        "output_1": "a",
        "output_2": "b",
        "label": label,
        "results": str(results) if literal else results,
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    items = [
        _item(1, "1", "1", True),
        _item(2, "1", "2", True),
        _item(2, None, None, False),
        _item(1, "2", "2", False),
    ]
    stats = {
        "correct_False": "1 / 4 = 25.0%",
        "correct_True": "2 / 4 = 50.0%",
        "correct_both": "1 / 4 = 25.0%",
        "equal": "3 / 4 = 75.0%",
        "kappa_False": 0.0,
    }
    _write(tmp_path, "Adversarial/Manual", "Judge-X", "Swap", items, stats)
    _write(tmp_path, "Natural", "Judge-X", "Vanilla", items[:2], None)
    return tmp_path


def test_verdicts_are_read_from_lists_and_python_literals_in_any_subset_depth(folder: Path) -> None:
    frame = read_llmbar(folder)
    assert set(frame["subset"]) == {"Adversarial/Manual", "Natural"} and len(frame) == 6
    manual = frame[frame["subset"] == "Adversarial/Manual"]
    assert manual["first"].fillna("none").tolist() == ["1", "1", "none", "2"] and manual["gold"].tolist() == [
        "1",
        "2",
        "2",
        "1",
    ]
    published = published_statistics(folder).iloc[0]
    cal = calibrate_pairwise(manual, n_boot=50)
    # an unparsed verdict is wrong in each order, but the same in both (the authors count None == None as equal)
    assert (cal.correct_first, cal.correct_swapped, cal.correct_both, cal.positional_agreement) == (
        published.correct_False,
        published.correct_True,
        published.correct_both,
        published.equal,
    )


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ("not a literal (", "neither a list nor a Python list literal"),
        ([], "non-empty list"),
        ([{"swap = True": {"winner": "1"}}], "no 'swap = False' verdict"),
    ],
)
def test_a_broken_result_names_the_file_and_item(tmp_path: Path, results: object, message: str) -> None:
    _write(tmp_path, "S", "J", "V", [{"label": 1, "results": results}], None)
    with pytest.raises(DataError, match=rf"result.json.gz item 0: .*{message}"):
        read_llmbar(tmp_path)


def test_judge_calibrate_prints_each_judge_and_checks_the_published_figures(
    folder: Path, cli, tmp_path
) -> None:
    out = cli("judge", "calibrate", "--llmbar", folder, "--json", tmp_path / "cal.json", "--bootstrap", "50")
    assert out.returncode == 0, out.stderr
    saved = {(r["subset"], r["strategy"]): r for r in json.loads((tmp_path / "cal.json").read_text())}
    assert saved[("Adversarial/Manual", "Swap")]["equals_published"] == "yes"
    assert saved[("Natural", "Vanilla")]["equals_published"] == "n/a"
    csv = tmp_path / "verdicts.csv"
    pd.DataFrame({"gold": ["1", "2", "1", "2"], "first": ["1", "2", "2", "2"]}).to_csv(csv, index=False)
    out = cli("judge", "calibrate", "--verdicts", csv)
    assert out.returncode == 0 and "75.0%" in out.stdout, out.stdout + out.stderr


def test_every_published_llmbar_figure_is_reproduced(shared_data: Path) -> None:
    root = shared_data / "llmbar" / "Dataset" / "LLMBar"
    frame, published = read_llmbar(root), published_statistics(root)
    assert len(published) == frame.groupby(["subset", "judge", "strategy"]).ngroups >= 75
    for _, row in published.iterrows():
        part = frame[
            (frame["subset"] == row.subset)
            & (frame["judge"] == row.judge)
            & (frame["strategy"] == row.strategy)
        ]
        cal = calibrate_pairwise(part, n_boot=10)
        assert (
            cal.correct_first,
            cal.correct_swapped,
            cal.correct_both,
            cal.positional_agreement,
            cal.items,
        ) == (row.correct_False, row.correct_True, row.correct_both, row.equal, row["items"]), (
            row.judge,
            row.strategy,
        )
        # the authors' kappa maps a winner "2" to 0 before comparing it with the gold 1/2: with that encoding,
        # scikit-learn gives their figure exactly; ours compares like with like
        theirs = [int(w) if w in ("0", "1") else 0 for w in part["first"]]
        assert cohen_kappa_score(theirs, part["gold"].astype(int)) == pytest.approx(
            row.kappa_False, abs=1e-12
        )
