"""LLMBar's judge results (Zeng et al., ICLR 2024) as a verdicts frame for judge calibration.

Layout: `<subset>/dataset.json(.gz)` and `<subset>/evaluators/<judge>/<strategy>/result.json(.gz)` with
`statistics.json(.gz)` beside it, subsets nested at any depth (`Natural`, `Adversarial/GPTInst`, ...). Each result
item is a dataset item plus `results`: a list (in some files a string holding a Python list literal, not JSON)
whose last element holds `{'swap = False': {'winner': ...}, 'swap = True': {'winner': ...}}`, the winner in the
original numbering ("1", "2", or None when the judge's answer could not be parsed).
"""

from __future__ import annotations

import ast
import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd

from llmbench.errors import DataError
from llmbench.public_data import PUBLIC_DATA

__all__ = ["published_statistics", "read_llmbar"]

COLUMNS = ("subset", "judge", "strategy", "item_id", "gold", "first", "swapped")


def _load(path: Path) -> Any:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON ({exc})") from None


def _results(value: Any, where: str) -> list[Any]:
    if isinstance(value, str):  # written with str() of a Python list in some of the authors' files
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise DataError(
                f"{where}: `results` is neither a list nor a Python list literal ({exc})"
            ) from None
    if not isinstance(value, list) or not value or not isinstance(value[-1], dict):
        raise DataError(
            f"{where}: `results` must be a non-empty list ending in the verdicts, got {value!r:.80}"
        )
    return value


def _winner(step: dict[str, Any], key: str, where: str) -> str | None:
    if key not in step:
        raise DataError(f"{where}: the last result has no {key!r} verdict")
    winner = step[key].get("winner") if isinstance(step[key], dict) else None
    return None if winner is None else str(winner)


def _result_files(root: Path) -> list[Path]:
    found = sorted(root.rglob("result.json")) + sorted(root.rglob("result.json.gz"))
    return [p for p in found if p.parent.parent.parent.name == "evaluators"]


def read_llmbar(root: str | Path) -> pd.DataFrame:
    """One row per (subset, judge, strategy, item): gold label and the judge's winner in each presentation order."""
    base = Path(root)
    if not base.exists():
        raise PUBLIC_DATA["llmbar"].missing(base, "LLMBar folder")
    files = _result_files(base)
    if not files:
        raise DataError(
            f"no LLMBar results (<subset>/evaluators/<judge>/<strategy>/result.json) under {base}"
        )
    rows = []
    for path in files:
        strategy_dir = path.parent
        judge, strategy = strategy_dir.parent.name, strategy_dir.name
        subset = strategy_dir.parent.parent.parent.relative_to(base).as_posix() or "."
        items = _load(path)
        if not isinstance(items, list):
            raise DataError(f"{path}: expected a JSON list of items, got {type(items).__name__}")
        for i, item in enumerate(items):
            where = f"{path} item {i}"
            if not isinstance(item, dict) or "label" not in item:
                raise DataError(f"{where}: no `label`")
            last = _results(item.get("results"), where)[-1]
            gold = str(item["label"])
            if gold not in ("1", "2"):
                raise DataError(f"{where}: label must be 1 or 2, got {item['label']!r}")
            rows.append(
                (
                    subset,
                    judge,
                    strategy,
                    str(i),
                    gold,
                    _winner(last, "swap = False", where),
                    _winner(last, "swap = True", where),
                )
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def published_statistics(root: str | Path) -> pd.DataFrame:
    """The authors' own figures per (subset, judge, strategy), as counts: correct per order, both, equal, items."""
    base = Path(root)
    rows = []
    for path in sorted(base.rglob("statistics.json*")):
        if path.parent.parent.parent.name != "evaluators":
            continue
        stats = _load(path)
        counts = {}
        for key in ("correct_False", "correct_True", "correct_both", "equal"):
            hit, _, rest = str(stats[key]).partition(" / ")
            counts[key], counts["items"] = int(hit), int(rest.split(" ")[0])
        subset = path.parent.parent.parent.parent.relative_to(base).as_posix() or "."
        rows.append(
            {
                "subset": subset,
                "judge": path.parent.parent.name,
                "strategy": path.parent.name,
                **counts,
                **{k: float(v) for k, v in stats.items() if k.startswith("kappa")},
            }
        )
    return pd.DataFrame(rows)
