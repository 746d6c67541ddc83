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

from llmbench.errors import ConfigError, DataError
from llmbench.providers.pricing import ModelPrice, PriceTable, estimate_tokens
from llmbench.providers.types import Usage

__all__ = [
    "ROUTELLM_PRICE_IDS",
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

# RouteLLM's outcomes ship without cost: they are priced from the price table. GPT-4-1106-preview is in the
# genai-prices snapshot ($10/$30 per 1M tokens); Mixtral-8x7B-Instruct is priced at Together AI's serverless
# list price (early 2024), an override callers can replace. Tokens are estimated as ceil(chars / 4).
ROUTELLM_PRICE_IDS: dict[str, str] = {
    "gpt-4-1106-preview": "openai:gpt-4-1106-preview",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "together:mistralai/Mixtral-8x7B-Instruct-v0.1",
}
ROUTELLM_OVERRIDES: dict[str, ModelPrice] = {
    "together:mistralai/Mixtral-8x7B-Instruct-v0.1": ModelPrice(input=0.6, output=0.6),
}
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


_WIDE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pkl", ".pickle")
# Columns of the RouterBench wide layout that are not per-model scores.
_NOT_MODELS = {"sample_id", "prompt", "eval_name", "oracle_model_to_route_to", "split", "_row", "Unnamed: 0"}


def _routerbench_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.endswith(_WIDE_SUFFIXES))
        if not files:
            raise DataError(f"no RouterBench .csv, .csv.gz, .parquet or .pkl files in {path}")
        return files
    if path.is_file():
        return [path]
    raise DataError(f"RouterBench path {path} does not exist; pass a CSV/Parquet file or a folder of them")


def _read_wide(file: Path, trust_pickle: bool) -> pd.DataFrame:
    """One RouterBench file; the official pickle only on request, since unpickling can run code."""
    name = file.name
    try:
        if name.endswith((".pkl", ".pickle")):
            if not trust_pickle:
                raise ConfigError(
                    f"{file} is a pickle, which can run arbitrary code when loaded; convert it to CSV/Parquet, "
                    "or pass --trust-pickle (trust_pickle=True) if you trust its source"
                )
            return pd.read_pickle(file)
        if name.endswith(".parquet"):
            return pd.read_parquet(file)
        return pd.read_csv(file)
    except (OSError, ValueError, EOFError, ImportError) as exc:
        raise DataError(f"cannot read RouterBench file {file}: {exc}") from exc


def _split_of(name: str) -> str | None:
    stem = re.sub(r"\.(csv(\.gz)?|parquet|pkl|pickle)$", "", name)
    for split in ("train", "test", "val", "dev"):
        if stem.endswith("_" + split):
            return split
    return None


def read_routerbench(
    path: str | Path,
    experiment: str = "routerbench",
    *,
    trust_pickle: bool = False,
    prices: PriceTable | None = None,
) -> pd.DataFrame:
    """Read RouterBench wide files (CSV, Parquet, or the official pickle with `trust_pickle`; a file or a
    folder) into a runs frame with an extra `split` column. Files without `<model>|total_cost` columns are
    priced from `prices` (the price table; token counts estimated from text, unknown models cost None)."""
    parts = []
    for file in _routerbench_files(Path(path)):
        wide = _read_wide(file, trust_pickle)
        need = {"sample_id", "prompt", "eval_name"}
        if not need <= set(wide.columns):
            raise DataError(
                f"{file} is not a RouterBench file: missing columns {sorted(need - set(wide.columns))}"
            )
        models = [c for c in wide.columns if c not in _NOT_MODELS and "|" not in str(c)]
        if not models:
            raise DataError(f"{file} has no per-model score columns; is it a RouterBench file?")
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
                    "cost_usd": _routerbench_cost(wide, model, prompts, prices),
                    "response": wide[response_col].map(_literal_text) if response_col in wide else None,
                    "split": wide["split"],
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    if not frame["score"].dropna().between(0, 1).all():
        raise DataError("RouterBench scores must lie in [0, 1]")
    return _typed(frame)


def _routerbench_cost(
    wide: pd.DataFrame, model: str, prompts: pd.Series, prices: PriceTable | None
) -> pd.Series:
    """The file's own per-call cost, else an estimate from the price table (bare RouterBench names are
    looked up by name across vendors; a model the table does not know costs None)."""
    column = f"{model}|total_cost"
    if column in wide.columns:
        return pd.to_numeric(wide[column], errors="coerce")
    table = prices or PriceTable()
    responses = wide.get(f"{model}|model_response", pd.Series("", index=wide.index)).map(_literal_text)
    return pd.Series(
        [
            table.price_by_name(
                model, Usage(input_tokens=estimate_tokens(p or ""), output_tokens=estimate_tokens(r or ""))
            )
            for p, r in zip(prompts, responses, strict=True)
        ],
        index=wide.index,
        dtype="float64",
    )


def _call_cost(price_id: str, input_tokens: int, output_tokens: int, prices: PriceTable) -> float | None:
    return prices.price(price_id, Usage(input_tokens=input_tokens, output_tokens=output_tokens))


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
    prices: PriceTable | None = None,
) -> pd.DataFrame:
    """Read RouteLLM's MMLU/GSM8K outcomes (GPT-4-1106 vs Mixtral) into a runs frame, priced from `prices`
    (default: the genai-prices snapshot plus `ROUTELLM_OVERRIDES`).

    Experiments are named `routellm-mmlu` and `routellm-gsm8k`; MMLU tasks are the subjects.
    """
    root = Path(directory)
    evals = root / "evals" if (root / "evals").is_dir() else root
    if prices is None:
        prices = PriceTable(dict(ROUTELLM_OVERRIDES))
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
        models = [c for c in wide.columns if c in ROUTELLM_PRICE_IDS]
        if len(models) < 2:
            raise DataError(f"RouteLLM {bench} file lacks the two model columns {sorted(ROUTELLM_PRICE_IDS)}")
        prompt = wide["prompt"].astype(str)
        in_tok = prompt.map(estimate_tokens)
        for model in models:
            resp_col = f"{model}_response"
            response = (
                wide[resp_col].astype("string") if resp_col in wide else pd.Series(pd.NA, index=wide.index)
            )
            out_tok = response.map(
                lambda r: estimate_tokens(r) if isinstance(r, str) else _MMLU_OUTPUT_TOKENS
            )
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
                            _call_cost(ROUTELLM_PRICE_IDS[model], i, o, prices)
                            for i, o in zip(in_tok, out_tok, strict=True)
                        ],
                        "input_tokens": in_tok,
                        "output_tokens": out_tok,
                        "response": response,
                    }
                )
            )
    return _typed(pd.concat(rows, ignore_index=True))
