"""Check the BFCL scorer on the real data: every ground-truth answer must score correct, every corruption wrong.

Usage: .venv/bin/python benchmarks/bfcl_scorer_check.py [--root ../shared/data/bfcl]

Columns: cases; gt answers = every combination of the possible values (single-turn) or the ground-truth
sequence with and without default-valued arguments (multi-turn); gt ok % = those scored correct;
contra = answer combinations that contradict the case's own function doc (omit a doc-required parameter or
use one the doc lacks) and how many of them are rejected, as BFCL's checker does; then per corruption the
share of cases where the corrupted answer is scored wrong (n/a = cannot be built for that category).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from llmbench.tools.bfcl import default_bfcl_dir
from llmbench.tools.bfcl_selfcheck import ALL_CORRUPTIONS, check_folder


def main() -> None:
    """Print one row per category the folder holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_bfcl_dir())
    root = parser.parse_args().root
    header = (
        f"{'category':<24} {'cases':>5} {'gt answers':>10} {'gt ok %':>8} {'contra rej':>10} "
        + " ".join(f"{k:>16}" for k in ALL_CORRUPTIONS)
    )
    print(header)
    print("-" * len(header))
    start = time.perf_counter()
    for row in check_folder(root):
        cells = []
        for kind in ALL_CORRUPTIONS:
            counts = row["corruptions"][kind]
            built = counts[True] + counts[False]
            na = f" ({counts[None]} n/a)" if counts[None] and built else ""
            cells.append(f"{100 * counts[True] / built:.1f}%{na}" if built else "n/a")
        print(
            f"{row['category']:<24} {row['cases']:>5} {row['answers']:>10} "
            f"{100 * row['answers_ok'] / max(row['answers'], 1):>7.1f}% "
            f"{row['contradicting_rejected']:>4}/{row['contradicting']:<5} "
            + " ".join(f"{c:>16}" for c in cells)
        )
        for case_id, failure in row["failures"]:
            print(f"    gt failure {case_id}: {failure}")
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
