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
from collections import Counter
from pathlib import Path

from llmbench.tools.bfcl import BFCL_CATEGORIES, default_bfcl_dir, load_bfcl
from llmbench.tools.bfcl_selfcheck import CORRUPTIONS, IRRELEVANCE_CORRUPTION, check_case

KINDS = (*CORRUPTIONS, IRRELEVANCE_CORRUPTION)


def main() -> None:
    """Print one row per category."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=default_bfcl_dir())
    root = parser.parse_args().root
    header = (
        f"{'category':<18} {'cases':>5} {'gt answers':>10} {'gt ok %':>8} {'contra rej':>10} "
        + " ".join(f"{k:>16}" for k in KINDS)
    )
    print(header)
    print("-" * len(header))
    start = time.perf_counter()
    for category in BFCL_CATEGORIES:
        results = [check_case(c) for c in load_bfcl(category, root)]
        answers = sum(r["variants"] for r in results)
        ok = sum(r["variants_ok"] for r in results)
        contra = sum(r["contradicting"] for r in results)
        rejected = sum(r["contradicting_rejected"] for r in results)
        cells = []
        for kind in KINDS:
            counts = Counter(r["detected"][kind] for r in results)
            built = counts[True] + counts[False]
            na = f" ({counts[None]} n/a)" if counts[None] and built else ""
            cells.append(f"{100 * counts[True] / built:.1f}%{na}" if built else "n/a")
        print(
            f"{category:<18} {len(results):>5} {answers:>10} {100 * ok / answers:>7.1f}% {rejected:>4}/{contra:<5} "
            + " ".join(f"{c:>16}" for c in cells)
        )
        for r in results:
            for failure in r["failures"]:
                print(f"    gt failure {r['id']}: {failure}")
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
