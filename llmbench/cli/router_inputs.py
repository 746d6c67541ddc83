"""What the router commands read: one data source as a runs frame, the --target and --mode, a label for runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from llmbench.errors import ConfigError

__all__ = ["load", "mode_arg", "target_arg"]


def load(
    store: Path | None,
    experiment: list[str] | None,
    score: str | None,
    routerbench: Path | None,
    routellm: Path | None,
    benchmark: str,
) -> tuple[Any, dict[str, Any]]:
    """The runs frame from exactly one source, plus a description of it: a file (--routerbench, --routellm), or the
    run store (--store, else $LLMBENCH_STORE or ./llmbench.duckdb, as everywhere) with --experiment."""
    files = [s for s in (routerbench, routellm) if s is not None]
    if len(files) + (store is not None) > 1:
        raise ConfigError("give one data source: --store (with --experiment), --routerbench or --routellm")
    if not files and not experiment:
        raise ConfigError(
            "give a data source: --experiment NAME (repeatable) from the run store (--store, default "
            "$LLMBENCH_STORE or ./llmbench.duckdb), or --routerbench / --routellm"
        )
    from llmbench import imports

    if routerbench is not None:
        return imports.read_routerbench(routerbench), {"source": "routerbench", "path": str(routerbench)}
    if routellm is not None:
        if benchmark not in imports.BENCHMARKS:
            raise ConfigError(
                f"--benchmark must be one of {', '.join(imports.BENCHMARKS)}, got {benchmark!r}"
            )
        frame = imports.read_routellm(routellm, benchmarks=(benchmark,))
        return frame, {"source": "routellm", "benchmark": benchmark, "path": str(routellm)}
    from llmbench.cli.options import store_path
    from llmbench.store import Store
    from llmbench.store.connection import store_label

    location = store_path(store)
    if isinstance(location, Path) and not location.exists():
        raise ConfigError(f"no run store at {location}; give --store PATH (or set $LLMBENCH_STORE)")
    with Store.open(location, read_only=True) as st:
        frame = st.runs_frame(experiment, score)
    if frame.empty:
        raise ConfigError(
            f"no runs for experiment(s) {experiment} in {store_label(location)}; check the names with `llmbench runs`"
        )
    return frame, {
        "source": "store",
        "path": store_label(location),
        "experiments": experiment,
        "score": score,
    }


def target_arg(spec: str | None) -> tuple[str, float] | None:
    """The parsed --target, checked before any work starts."""
    if spec is None:
        return None
    from llmbench.router.calibrate import TARGETS

    name, _, value = spec.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if name.strip() not in TARGETS or not math.isfinite(number) or number < 0:
        raise ConfigError(
            f"--target must look like budget=2.5, strong_share=0.3 or quality_floor=0.98 (one of "
            f"{', '.join(TARGETS)} and a non-negative number), got {spec!r}"
        )
    return name.strip(), number


def mode_arg(mode: str) -> str:
    """The --mode, checked before any work starts."""
    if mode not in ("cost", "threshold"):
        raise ConfigError(f"--mode must be cost or threshold, got {mode!r}")
    return mode
