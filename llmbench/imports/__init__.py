"""Importers: public logged runs into the shared runs frame or straight into a run store, through one validation
layer (`llmbench.imports.validate`).

    read_runs(paths, ...)          long-form CSV/Parquet/JSONL (one row per prompt x model), or a scores object
    read_routerbench(path, ...)    RouterBench's wide files (with the file's `split`)
    read_routellm(dir, ...)        RouteLLM's MMLU, GSM8K and MT-Bench outcomes
    import_file(store, kind, ...)  any of these into a store, in SQL (no pandas copy of the data)
    import_frame(store, frame, ...) a runs frame already in memory into a store

Every reader raises one `DataError` that counts the problems and names the first rows (file, row, column,
value); the returned frame's `attrs["import_report"]` (an `ImportReport`) says what was missing, rescaled,
clamped, estimated or left unpriced.
"""

from llmbench.imports.api import (
    empty_runs_frame,
    import_file,
    import_frame,
    read_routellm,
    read_routerbench,
    read_runs,
    routellm_prices,
)
from llmbench.imports.long import GUESSES, Columns
from llmbench.imports.routellm import BENCHMARKS, ROUTELLM_OVERRIDES, ROUTELLM_PRICE_IDS
from llmbench.imports.validate import CLIP_LIMIT, ImportOptions, ImportReport
from llmbench.store.frames import RUNS_COLUMNS

__all__ = [
    "BENCHMARKS",
    "CLIP_LIMIT",
    "GUESSES",
    "ROUTELLM_OVERRIDES",
    "ROUTELLM_PRICE_IDS",
    "RUNS_COLUMNS",
    "Columns",
    "ImportOptions",
    "ImportReport",
    "empty_runs_frame",
    "import_file",
    "import_frame",
    "read_routellm",
    "read_routerbench",
    "read_runs",
    "routellm_prices",
]
