"""The importers' entry points (re-exported by `llmbench.imports`, see its docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from llmbench.imports.flow import Builder, into_store, to_frame
from llmbench.imports.frames import frame_builder
from llmbench.imports.long import Columns, long_builder
from llmbench.imports.routellm import ROUTELLM_OVERRIDES, routellm_builder
from llmbench.imports.routerbench import routerbench_builder
from llmbench.imports.validate import ImportOptions, ImportReport
from llmbench.providers.pricing import PriceTable
from llmbench.store import Store
from llmbench.store.frames import RUNS_COLUMNS, runs_frame_dtypes

__all__ = [
    "empty_runs_frame",
    "import_file",
    "import_frame",
    "read_routellm",
    "read_routerbench",
    "read_runs",
    "routellm_prices",
]

Kind = Literal["runs", "routerbench", "routellm"]


def empty_runs_frame() -> pd.DataFrame:
    """An empty runs frame with the contract's columns and dtypes."""
    return runs_frame_dtypes(pd.DataFrame(columns=list(RUNS_COLUMNS)))


def routellm_prices(prices: PriceTable | None = None) -> PriceTable:
    """The price table for RouteLLM's models: the given one, plus the documented Mixtral price where unset."""
    table = PriceTable(dict(ROUTELLM_OVERRIDES))
    if prices is not None:
        table.overrides.update(prices.overrides)
    return table


def _options(options: ImportOptions | None, **fixed: Any) -> ImportOptions:
    base = options or ImportOptions()
    return ImportOptions(**{**base.__dict__, **{k: v for k, v in fixed.items() if v is not None}})


def _builder(kind: Kind, paths: Sequence[str | Path], name: str | None, **kw: Any) -> tuple[Builder, str]:
    first = Path(paths[0])
    if kind == "routerbench":
        return routerbench_builder(
            first, name or "routerbench", trust_pickle=kw.get("trust_pickle", False)
        ), str(first)
    if kind == "routellm":
        return routellm_builder(first, tuple(kw.get("benchmarks") or ("mmlu", "gsm8k")), kw["options"]), str(
            first
        )
    stem = first.name.split(".")[0]
    return long_builder(paths, name or stem, kw.get("columns")), ", ".join(map(str, paths))


def read_runs(
    paths: str | Path | Sequence[str | Path],
    experiment: str | None = None,
    *,
    columns: Columns | None = None,
    options: ImportOptions | None = None,
) -> pd.DataFrame:
    """Long-form logged runs (see `llmbench.imports.long`) as a runs frame (experiment: the file's stem)."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    build, source = _builder("runs", paths, experiment, columns=columns)
    return to_frame(build, source, options)


def read_routerbench(
    path: str | Path,
    experiment: str = "routerbench",
    *,
    trust_pickle: bool = False,
    prices: PriceTable | None = None,
    options: ImportOptions | None = None,
) -> pd.DataFrame:
    """RouterBench wide files (a file or a folder) as a runs frame with a `split` column; costs missing from
    the files are priced from `prices` (tokens estimated from the text; unknown models cost None)."""
    build = routerbench_builder(path, experiment, trust_pickle=trust_pickle)
    return to_frame(build, str(path), _options(options, prices=prices), split=True)


def read_routellm(
    directory: str | Path,
    benchmarks: tuple[str, ...] = ("mmlu", "gsm8k"),
    prices: PriceTable | None = None,
    *,
    options: ImportOptions | None = None,
) -> pd.DataFrame:
    """RouteLLM's outcomes (experiments `routellm-<benchmark>`) priced from `prices` (default: the snapshot plus
    `ROUTELLM_OVERRIDES`; tokens estimated from text, one output token for an MMLU answer letter)."""
    opts = _options(
        options,
        prices=routellm_prices(prices or (options.prices if options else None)),
        assume_output_tokens=1,
    )
    return to_frame(routellm_builder(directory, tuple(benchmarks), opts), str(directory), opts)


def import_file(
    store: Store,
    kind: Kind,
    paths: str | Path | Sequence[str | Path],
    *,
    name: str | None = None,
    options: ImportOptions | None = None,
    columns: Columns | None = None,
    benchmarks: Sequence[str] | None = None,
    trust_pickle: bool = False,
    replace: bool = False,
) -> ImportReport:
    """Import files of `kind` ("runs", "routerbench", "routellm") into `store`, validated, in SQL."""
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if kind == "routellm":
        options = _options(
            options, prices=routellm_prices(options.prices if options else None), assume_output_tokens=1
        )
    build, source = _builder(
        kind,
        paths,
        name,
        columns=columns,
        benchmarks=benchmarks,
        trust_pickle=trust_pickle,
        options=options or ImportOptions(),
    )
    config = {"source": kind, "path": [str(p) for p in paths]}
    return into_store(store, build, source, options, config=config, replace=replace)


def import_frame(
    store: Store,
    frame: pd.DataFrame,
    experiment: str,
    source: Literal["native", "simulated", "imported"] = "imported",
    *,
    config: dict[str, Any] | None = None,
    replace: bool = False,
    options: ImportOptions | None = None,
) -> int:
    """Write a runs frame as a new experiment (items, one final call per row, scores); returns the rows.

    Costs are kept as they are (a missing cost stays unknown) unless `options` asks to price them."""
    report = into_store(
        store,
        frame_builder(frame, experiment),
        "the runs frame",
        options or ImportOptions(price_missing=False),
        config=config,
        kind=source,
        replace=replace,
    )
    return report.rows
