"""Execute every notebook in notebooks/ top to bottom, as a reader would, and fail on the first error.

Each notebook runs in its own kernel, started from this venv's Python, with a per-notebook time limit (default
180 s; a notebook may set `metadata.llmbench.timeout`). It runs from a temporary copy of the repo layout
(`notebooks/` copied, the other top-level folders linked), so `../datasets` and `../experiments` resolve while
anything a notebook writes (stores, MLflow files) lands in the temporary folder, never in the repo. Notebooks
that read `../shared/data` are skipped with a reason when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from llmbench.testing import shared_data_dir
from llmbench.testing.notebooks import execute, notebooks, rich_outputs, timeout_of

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.notebook, pytest.mark.slow]
NOTEBOOKS = notebooks(ROOT)


def needs_shared_data(nb: nbformat.NotebookNode) -> bool:
    """Whether the notebook reads the shared third-party data folder."""
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return any(name in source for name in ("shared_data_dir", "require_shared_data", "shared/data"))


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.name, marks=pytest.mark.timeout(timeout_of(p) + 60)) for p in NOTEBOOKS],
)
async def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    stored = nbformat.read(path, as_version=4)
    if needs_shared_data(stored) and shared_data_dir() is None:
        pytest.skip(f"{path.name} reads ../shared/data, which is absent (set LLMBENCH_SHARED_DATA)")
    try:
        nb = await execute(ROOT, path, tmp_path)
    except TimeoutError:
        limit = timeout_of(path)
        pytest.fail(
            f"{path.name} took longer than {limit} s (raise metadata.llmbench.timeout if that is expected)"
        )
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    # a cell that ends by drawing a figure shows it inline (an image output, not "<Figure size ...>")
    drawn = [
        c
        for c in nb.cells
        if c.cell_type == "code" and "plot_cost_quality(" in (c.source.strip().splitlines() or [""])[-1]
    ]
    for cell in drawn:
        kinds = {k for o in cell.get("outputs", []) for k in o.get("data", {})}
        assert "image/png" in kinds, (
            f"{path.name}: a figure cell shows no image ({sorted(kinds)}): {cell.source[:80]!r}"
        )
    # stored with its outputs, and they are current: every figure, table and error the notebook shows now
    assert any(rich_outputs(stored)), f"{path.name} is stored without outputs"
    assert rich_outputs(stored) == rich_outputs(nb), (
        f"{path.name}'s stored outputs are not what it shows now: run `python -m llmbench.testing.notebooks "
        f"{path.name}` and commit the notebook"
    )
