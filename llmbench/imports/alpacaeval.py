"""AlpacaEval preferences (any annotator, any version) as a pairs frame, and its published leaderboards.

Accepted inputs:
- a folder with compact tables `preferences_<annotator>.compact.csv(.gz)` (columns idx, generator, baseline,
  annotator, preference, output_len_chars), with the baseline's answers in `baseline_outputs_*.jsonl(.gz)`
  (idx, output_len_chars) for length-controlled win rates;
- AlpacaEval's own `annotations.json` (a list of {instruction, output_1, generator_1, output_2, generator_2,
  preference, annotator}), a file or a tree such as `results/<model>/<annotator>/annotations.json`;
- leaderboard CSVs (`leaderboard*.csv` in the folder, or a path): first column the model.

AlpacaEval encodes a judgment as `preference` 2 (model wins), 1 (baseline wins), 1.5 or 0 (draw: 0 is the old
draw code, which AlpacaEval still maps to 1.5), anything in between for weighted annotators, and NaN (no
judgment: dropped). Its win rate is mean(preference - 1) x 100 and its standard error pandas' `sem` of the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from llmbench.errors import DataError
from llmbench.public_data import PUBLIC_DATA

__all__ = [
    "EXCLUDED",
    "GENERATOR_ALIASES",
    "annotators",
    "read_alpacaeval_leaderboard",
    "read_alpacaeval_pairs",
]

# Generator names in AlpacaEval 1.0 annotation files that differ from the leaderboard's model names.
GENERATOR_ALIASES = {
    "llama7B_freelb_lr5e-5_AdvLr0_InitAdvMax10_AdvStep1_Projl2_MaxNorm0_yuxinRun": "alpaca-7b-neft",
}
# AlpacaEval's adversarial "cheat the judge" entries, left out of leaderboards.
EXCLUDED = {"example", "NullModel", "gpt4_gamed"}
_COMPACT = ("preferences_*.compact.csv.gz", "preferences_*.compact.csv")


def _compact_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in _COMPACT for p in folder.glob(pattern))


def _annotation_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("annotations.json"))


def annotators(path: str | Path) -> list[str]:
    """The annotators whose judgments a folder holds (compact tables and annotations.json trees)."""
    folder = Path(path)
    names = {p.name.removeprefix("preferences_").split(".compact")[0] for p in _compact_files(folder)}
    names |= {p.parent.name for p in _annotation_files(folder)}
    return sorted(names)


def read_alpacaeval_pairs(
    path: str | Path,
    annotator: str | None = None,
    *,
    exclude: set[str] | frozenset[str] = frozenset(EXCLUDED),
) -> pd.DataFrame:
    """Pairs frame: model_a = the model, model_b = the baseline, outcome = preference - 1 in [0, 1], item_id
    the instruction; `len_a`/`len_b` the answers' lengths in characters when known; `annotator`."""
    p = Path(path)
    if p.is_file():
        frame = _read_annotations(p) if p.suffix == ".json" else _read_compact(p, p.parent)
    elif p.is_dir():
        found = annotators(p)
        if not found:
            raise DataError(
                f"{p} holds no AlpacaEval preferences: expected preferences_<annotator>.compact.csv(.gz) or "
                "annotations.json files (see the data folder's MANIFEST.md)"
            )
        if annotator is None and len(found) > 1:
            raise DataError(f"{p} holds judgments of several annotators {found}; choose one (--annotator)")
        chosen = annotator or found[0]
        if chosen not in found:
            raise DataError(f"no judgments by annotator {chosen!r} in {p}; found {found}")
        compact = [f for f in _compact_files(p) if f.name.startswith(f"preferences_{chosen}.compact")]
        if compact:
            frame = _read_compact(compact[0], p)
        else:
            parts = [_read_annotations(f) for f in _annotation_files(p) if f.parent.name == chosen]
            frame = pd.concat(parts, ignore_index=True)
    else:
        raise PUBLIC_DATA["alpacaeval"].missing(p, "AlpacaEval folder or file")
    frame = _with_baseline_lengths(frame)
    frame = frame[~frame["model_a"].isin(exclude)]
    # a model stored twice under one generator name (an upstream duplicate) counts once
    frame = frame.drop_duplicates(["item_id", "model_a"]).dropna(subset=["outcome"])
    bad = frame[~frame["outcome"].between(0.0, 1.0)]
    if len(bad):
        first = bad.iloc[0]
        raise DataError(
            f"{p}: {len(bad)} preferences outside AlpacaEval's codes 0, 1..2, e.g. {first['model_a']} on "
            f"item {first['item_id']}: {first['outcome'] + 1}"
        )
    return frame.reset_index(drop=True)


def _with_baseline_lengths(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing baseline answer lengths filled from the baseline's own rows (the baseline judged against itself, as
    a results folder holds it), wherever the baseline-outputs file did not give them."""
    if "len_a" not in frame or frame["len_a"] is None:
        return frame
    own = frame[(frame["model_a"] == frame["model_b"]) & frame["len_a"].notna()]
    if own.empty:
        return frame
    lengths = own.drop_duplicates(["model_b", "item_id"]).set_index(["model_b", "item_id"])["len_a"]
    found = pd.Series(list(zip(frame["model_b"], frame["item_id"], strict=True)), index=frame.index).map(
        lengths
    )
    current = frame["len_b"] if "len_b" in frame else pd.Series(float("nan"), index=frame.index)
    return frame.assign(len_b=pd.to_numeric(current, errors="coerce").fillna(found.astype(float)))


def _preference(values: pd.Series) -> pd.Series:
    pref = pd.to_numeric(values, errors="coerce").replace({0.0: 1.5})  # 0 is AlpacaEval's legacy draw code
    return pref - 1.0


def _read_compact(file: Path, folder: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {file}: {exc}") from None
    needed = {"idx", "generator", "baseline", "preference"}
    if not needed <= set(raw.columns):
        raise DataError(
            f"{file} lacks columns {sorted(needed - set(raw.columns))} (compact AlpacaEval table)"
        )
    out = pd.DataFrame(
        {
            "item_id": raw["idx"].astype(str),
            "model_a": raw["generator"].replace(GENERATOR_ALIASES),
            "model_b": raw["baseline"],
            "outcome": _preference(raw["preference"]),
            "len_a": pd.to_numeric(raw["output_len_chars"], errors="coerce")
            if "output_len_chars" in raw
            else None,
            "annotator": raw.get("annotator", file.name.removeprefix("preferences_").split(".compact")[0]),
        }
    )
    base = sorted(folder.glob("baseline_outputs_*.jsonl*"))
    if base:
        lengths = pd.read_json(base[0], lines=True).set_index("idx")["output_len_chars"]
        out["len_b"] = raw["idx"].map(lengths).astype(float)
    return out


def _instruction_id(text: str) -> str:
    return hashlib.sha256(str(text).encode()).hexdigest()[:16]


def _read_annotations(file: Path) -> pd.DataFrame:
    try:
        records = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {file} as JSON: {exc}") from None
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        raise DataError(f"{file} is not an AlpacaEval annotations list (a JSON list of objects)")
    raw = pd.DataFrame.from_records(records)
    needed = {"instruction", "generator_1", "generator_2", "preference"}
    if not needed <= set(raw.columns):
        raise DataError(f"{file} lacks fields {sorted(needed - set(raw.columns))} (AlpacaEval annotations)")

    def length(col: str) -> pd.Series | None:
        return raw[col].map(lambda t: len(t) if isinstance(t, str) else None) if col in raw else None

    return pd.DataFrame(
        {
            "item_id": raw["instruction"].map(_instruction_id),
            "model_a": raw["generator_2"].replace(GENERATOR_ALIASES),
            "model_b": raw["generator_1"],
            "outcome": _preference(raw["preference"]),
            "len_a": length("output_2"),
            "len_b": length("output_1"),
            "annotator": raw.get("annotator", file.parent.name),
        }
    )


def read_alpacaeval_leaderboard(path: str | Path, annotator: str | None = None) -> pd.DataFrame:
    """A published AlpacaEval leaderboard (a CSV, or the `leaderboard*.csv` of a folder), indexed by model."""
    p = Path(path)
    if p.is_dir():
        boards = sorted(p.glob("leaderboard*.csv"))
        if annotator is not None and len(boards) > 1:
            boards = [b for b in boards if annotator in b.name] or boards
        if not boards:
            raise DataError(f"no leaderboard*.csv in {p} (see its MANIFEST.md)")
        p = boards[0]
    if not p.is_file():
        raise PUBLIC_DATA["alpacaeval"].missing(p, "AlpacaEval leaderboard")
    board = pd.read_csv(p, index_col=0)
    board.index.name = "model"
    return board
