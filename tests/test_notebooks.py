"""Execute every notebook in notebooks/ top to bottom, as a reader would, and fail on the first error.

Each notebook runs in its own kernel, started from this venv's Python, with a per-notebook time limit (default
180 s; a notebook may set `metadata.llmbench.timeout`). It runs from a temporary copy of the repo layout
(`notebooks/` copied, the other top-level folders linked), so `../datasets` and `../experiments` resolve while
anything a notebook writes (stores, MLflow files) lands in the temporary folder, never in the repo. Notebooks
that read `../shared/data` are skipped with a reason when it is absent.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from llmbench.testing import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.notebook, pytest.mark.slow]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
DEFAULT_TIMEOUT_S = 180
KERNEL = "llmbench-test-venv"
# Left at the repo root by runs: a notebook copy must not see (or write) them.
STATE = {"notebooks", ".git", ".venv", "mlruns", "mlflow.db", ".pytest_cache", ".ruff_cache", "__pycache__"}


def timeout_of(path: Path) -> int:
    """The notebook's own time limit (metadata.llmbench.timeout) or the default."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return int((meta.get("llmbench") or {}).get("timeout", DEFAULT_TIMEOUT_S))


def needs_shared_data(nb: nbformat.NotebookNode) -> bool:
    """Whether the notebook reads the shared third-party data folder."""
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return any(name in source for name in ("shared_data_dir", "require_shared_data", "shared/data"))


def layout(tmp: Path, notebook: Path) -> Path:
    """tmp/notebooks/<copy> beside links to the repo's other top-level entries; returns the copy's folder."""
    for entry in ROOT.iterdir():
        if entry.name in STATE or entry.name.endswith((".duckdb", ".duckdb.wal")):
            continue
        (tmp / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    folder = tmp / "notebooks"
    folder.mkdir()
    (folder / notebook.name).write_bytes(notebook.read_bytes())
    return folder


def install_kernel(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernelspec that starts this interpreter (the venv's), found first through JUPYTER_PATH."""
    spec_dir = tmp / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "llmbench venv", "language": "python"}  # fmt: skip
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp / "jupyter"))


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.name, marks=pytest.mark.timeout(timeout_of(p) + 60)) for p in NOTEBOOKS],
)
async def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(path, as_version=4)
    if needs_shared_data(nb) and shared_data_dir() is None:
        pytest.skip(f"{path.name} reads ../shared/data, which is absent (set LLMBENCH_SHARED_DATA)")
    work = tmp_path / "repo"
    work.mkdir()
    folder = layout(work, path)
    install_kernel(tmp_path, monkeypatch)
    # Default locations of what notebooks write, kept inside the temporary folder.
    monkeypatch.setenv("LLMBENCH_STORE", str(work / "llmbench.duckdb"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    monkeypatch.setenv("MPLBACKEND", "agg")
    limit = timeout_of(path)
    client = NotebookClient(
        nb, timeout=limit, kernel_name=KERNEL, resources={"metadata": {"path": str(folder)}}
    )
    try:
        await asyncio.wait_for(client.async_execute(), timeout=limit)
    except TimeoutError:
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
