"""Readers that turn public routing datasets into the shared long "runs frame".

One row per (item, model, epoch) with the columns of `RUNS_COLUMNS` (see the runs-frame contract).
`read_routerbench` adds an extra `split` column ("train"/"test") taken from the file names, so that
evaluations can keep the published split.
"""

from __future__ import annotations

import ast
import gzip
import math
import re
from pathlib import Path

import pandas as pd

from llmbench.errors import DataError

__all__ = [
    "ROUTELLM_PRICES",
    "RUNS_COLUMNS",
    "empty_runs_frame",
    "read_routellm",
    "read_routerbench",
]

RUNS_COLUMNS: dict[str, str] = {
    "experiment": "string",
    "item_id": "string",
    "prompt": "string",
    "task": "string",
    "model": "string",
    "epoch": "int64",
    "score": "float64",
    "cost_usd": "float64",
    "input_tokens": "Int64",
    "output_tokens": "Int64",
    "latency_s": "float64",
    "response": "string",
    "error": "string",
}

# List prices (USD per 1M tokens, input/output) used to attach a per-call cost to RouteLLM's outcomes, which
# ship without cost. GPT-4-1106-preview: OpenAI list price at release (Nov 2023). Mixtral-8x7B-Instruct:
# Together AI serverless list price (early 2024). Tokens are estimated as ceil(chars / 4).
ROUTELLM_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4-1106-preview": (10.0, 30.0),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": (0.6, 0.6),
}
_CHARS_PER_TOKEN = 4
_MMLU_OUTPUT_TOKENS = 1  # the MMLU prompts end in "Answer:" and are scored on one letter


def empty_runs_frame() -> pd.DataFrame:
    """An empty runs frame with the contract's columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in RUNS_COLUMNS.items()})


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for col, dtype in RUNS_COLUMNS.items():
        if col not in frame or frame[col].isna().all():
            frame[col] = pd.Series(pd.array([None] * len(frame), dtype=dtype), index=frame.index)
        frame[col] = frame[col].astype(dtype)
    extra = [c for c in frame.columns if c not in RUNS_COLUMNS]
    return frame[[*RUNS_COLUMNS, *extra]].reset_index(drop=True)


def _literal_text(value: object) -> str | None:
    """RouterBench stores prompts/responses as Python list literals; join the parts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(parsed, (list, tuple)):
        return "\n".join(str(p) for p in parsed)
    return str(parsed)


def _routerbench_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith((".csv", ".csv.gz")))
        if not files:
            raise DataError(f"no RouterBench .csv or .csv.gz files in {path}")
        return files
    if path.is_file():
        return [path]
    raise DataError(f"RouterBench path {path} does not exist; pass a CSV file or a folder of them")


def _split_of(name: str) -> str | None:
    stem = re.sub(r"\.csv(\.gz)?$", "", name)
    for split in ("train", "test", "val", "dev"):
        if stem.endswith("_" + split):
            return split
    return None


def read_routerbench(path: str | Path, experiment: str = "routerbench") -> pd.DataFrame:
    """Read RouterBench wide CSV(s) (a file or a folder) into a runs frame with an extra `split` column."""
    parts = []
    for file in _routerbench_files(Path(path)):
        try:
            wide = pd.read_csv(file)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"cannot read RouterBench file {file}: {exc}") from exc
        need = {"sample_id", "prompt", "eval_name"}
        if not need <= set(wide.columns):
            raise DataError(
                f"{file} is not a RouterBench CSV: missing columns {sorted(need - set(wide.columns))}"
            )
        models = [c[: -len("|total_cost")] for c in wide.columns if c.endswith("|total_cost")]
        if not models:
            raise DataError(f"{file} has no '<model>|total_cost' columns; is it a RouterBench file?")
        wide = wide.assign(
            split=_split_of(file.name), _row=wide.get("Unnamed: 0", pd.Series(range(len(wide))))
        )
        parts.append((wide, models))
    wide = pd.concat([w for w, _ in parts], ignore_index=True)
    models = list(dict.fromkeys(m for _, ms in parts for m in ms))
    # A few sample_ids occur twice with different prompts (malformed upstream rows): disambiguate.
    dup = wide["sample_id"].duplicated(keep=False)
    item_id = (
        wide["sample_id"]
        .astype(str)
        .where(~dup, wide["sample_id"].astype(str) + "@" + wide["_row"].astype(str))
    )
    prompts = wide["prompt"].map(_literal_text)
    rows = []
    for model in models:
        response_col = f"{model}|model_response"
        rows.append(
            pd.DataFrame(
                {
                    "experiment": experiment,
                    "item_id": item_id,
                    "prompt": prompts,
                    "task": wide["eval_name"].astype(str),
                    "model": model,
                    "epoch": 0,
                    "score": pd.to_numeric(wide.get(model), errors="coerce"),
                    "cost_usd": pd.to_numeric(wide.get(f"{model}|total_cost"), errors="coerce"),
                    "response": wide[response_col].map(_literal_text) if response_col in wide else None,
                    "split": wide["split"],
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    if not frame["score"].dropna().between(0, 1).all():
        raise DataError("RouterBench scores must lie in [0, 1]")
    return _typed(frame)


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


def _call_cost(
    model: str, input_tokens: int, output_tokens: int, prices: dict[str, tuple[float, float]]
) -> float:
    if model not in prices:
        raise DataError(
            f"no price for RouteLLM model {model!r}; pass prices={{model: (input, output) per 1M}}"
        )
    inp, out = prices[model]
    return (input_tokens * inp + output_tokens * out) / 1e6


def _bool_score(value: object) -> float:
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return 1.0
    if text in ("false", "0", "0.0"):
        return 0.0
    return math.nan


def _read_csv_gz(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read RouteLLM file {path}: {exc}") from exc


def read_routellm(
    directory: str | Path,
    benchmarks: tuple[str, ...] = ("mmlu", "gsm8k"),
    prices: dict[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Read RouteLLM's MMLU/GSM8K outcomes (GPT-4-1106 vs Mixtral) into a runs frame with estimated costs.

    Experiments are named `routellm-mmlu` and `routellm-gsm8k`; MMLU tasks are the subjects.
    """
    root = Path(directory)
    evals = root / "evals" if (root / "evals").is_dir() else root
    prices = ROUTELLM_PRICES if prices is None else prices
    wides: list[tuple[str, pd.DataFrame]] = []
    if "mmlu" in benchmarks:
        files = sorted((evals / "mmlu" / "responses").glob("mmlu_*.csv*"))
        if not files:
            raise DataError(f"no MMLU response files under {evals / 'mmlu' / 'responses'}")
        for f in files:
            subject = re.sub(r"^mmlu_|\.csv(\.gz)?$", "", f.name)
            wide = _read_csv_gz(f).assign(task=subject, _bench="mmlu")
            wide["item_id"] = [f"mmlu.{subject}.{i}" for i in range(len(wide))]
            wides.append(("mmlu", wide))
    if "gsm8k" in benchmarks:
        f = next(iter(sorted((evals / "gsm8k").glob("gsm8k_responses.csv*"))), None)
        if f is None:
            raise DataError(f"no gsm8k_responses.csv(.gz) under {evals / 'gsm8k'}")
        wide = _read_csv_gz(f).assign(task="gsm8k", _bench="gsm8k")
        wide["item_id"] = [f"gsm8k.{i}" for i in range(len(wide))]
        wides.append(("gsm8k", wide))
    rows = []
    for bench, wide in wides:
        models = [c for c in wide.columns if c in prices or c in ROUTELLM_PRICES]
        if len(models) < 2:
            raise DataError(f"RouteLLM {bench} file lacks the two model columns {sorted(ROUTELLM_PRICES)}")
        prompt = wide["prompt"].astype(str)
        in_tok = prompt.map(_tokens)
        for model in models:
            resp_col = f"{model}_response"
            response = (
                wide[resp_col].astype("string") if resp_col in wide else pd.Series(pd.NA, index=wide.index)
            )
            out_tok = response.map(lambda r: _tokens(r) if isinstance(r, str) else _MMLU_OUTPUT_TOKENS)
            score = wide[model].map(_bool_score)
            rows.append(
                pd.DataFrame(
                    {
                        "experiment": f"routellm-{bench}",
                        "item_id": wide["item_id"],
                        "prompt": prompt,
                        "task": wide["task"],
                        "model": model,
                        "epoch": 0,
                        "score": score,
                        "cost_usd": [
                            _call_cost(model, i, o, prices) for i, o in zip(in_tok, out_tok, strict=True)
                        ],
                        "input_tokens": in_tok,
                        "output_tokens": out_tok,
                        "response": response,
                    }
                )
            )
    return _typed(pd.concat(rows, ignore_index=True))
