"""Executing the repository's notebooks as a reader would, and storing their outputs.

A notebook runs in its own kernel (this interpreter's), from a temporary copy of the repo layout (`notebooks/`
copied, the other top-level entries linked), so `../datasets` resolve while whatever it writes (stores, MLflow
files) lands in the temporary folder. `python -m llmbench.testing.notebooks [NAME ...]` executes them and writes
the outputs back, so that a reader browsing the repository sees the figures and tables; the notebook test executes
them again and checks the stored outputs have the same shape (`rich_outputs`). Needs nbclient and ipykernel (the
`notebooks` and `test` extras).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_TIMEOUT_S", "execute", "kernel", "layout", "notebooks", "rich_outputs", "timeout_of"]

DEFAULT_TIMEOUT_S = 180
KERNEL = "llmbench-venv"
# Left at the repo root by runs: a notebook copy must not see (or write) them.
_STATE = {"notebooks", ".git", ".venv", "mlruns", "mlflow.db", ".pytest_cache", ".ruff_cache", "__pycache__"}
_VOLATILE = ("execution",)  # cell metadata that changes on every run (timings)


def notebooks(root: Path) -> list[Path]:
    """The repository's notebooks, in order."""
    return sorted(p for p in (root / "notebooks").glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def timeout_of(path: Path) -> int:
    """The notebook's own time limit (metadata.llmbench.timeout) or the default."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return int((meta.get("llmbench") or {}).get("timeout", DEFAULT_TIMEOUT_S))


def layout(root: Path, tmp: Path, notebook: Path) -> Path:
    """tmp/notebooks/<copy> beside links to the repo's other top-level entries; returns the copy's folder."""
    for entry in root.iterdir():
        if entry.name in _STATE or entry.name.endswith((".duckdb", ".duckdb.wal")):
            continue
        (tmp / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    folder = tmp / "notebooks"
    folder.mkdir()
    (folder / notebook.name).write_bytes(notebook.read_bytes())
    return folder


@contextlib.contextmanager
def kernel(tmp: Path) -> Iterator[dict[str, str]]:
    """A kernelspec that starts this interpreter, and the environment that finds it first (JUPYTER_PATH)."""
    spec_dir = tmp / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "llmbench", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    yield {"JUPYTER_PATH": str(tmp / "jupyter")}


async def execute(root: Path, path: Path, tmp: Path, env: dict[str, str] | None = None) -> Any:
    """`path` executed top to bottom in a copy of the repo layout under `tmp` (TimeoutError past its limit); the
    executed notebook (nbformat). `env` is set for the kernel (it inherits this process's environment)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]  # nbformat has no types
    work = tmp / "repo"
    work.mkdir()
    folder = layout(root, work, path)
    limit = timeout_of(path)
    with kernel(tmp) as jupyter:
        settings = {
            "LLMBENCH_STORE": str(work / "llmbench.duckdb"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
            "MPLBACKEND": "agg",
            **jupyter,
            **(env or {}),
        }
        saved = {k: os.environ.get(k) for k in settings}
        os.environ.update(settings)
        try:
            client = NotebookClient(
                nb, timeout=limit, kernel_name=KERNEL, resources={"metadata": {"path": str(folder)}}
            )
            await asyncio.wait_for(client.async_execute(), timeout=limit)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    for cell in nb.cells:
        for key in _VOLATILE:
            cell.get("metadata", {}).pop(key, None)
    return nb


def rich_outputs(nb: Any) -> list[list[tuple[str, ...]]]:
    """Per code cell, what it shows beyond text streams: each output's type and MIME types (values and streams
    differ between runs and machines; a figure, a table or an error does not)."""
    shapes = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        shapes.append(
            [
                (o.output_type, *sorted(o.get("data", {})))
                for o in cell.get("outputs", [])
                if o.output_type != "stream"
            ]
        )
    return shapes


def main(argv: list[str] | None = None) -> int:
    """Execute the named notebooks (default: all) and store their outputs in place."""
    import nbformat

    root = Path(__file__).resolve().parents[2]
    names = set(argv if argv is not None else sys.argv[1:])
    for path in notebooks(root):
        if names and path.name not in names and path.stem not in names:
            continue
        with tempfile.TemporaryDirectory(prefix="llmbench-nb-") as tmp:
            nb = asyncio.run(execute(root, path, Path(tmp)))
        nbformat.write(nb, path)  # type: ignore[no-untyped-call]
        print(f"stored the outputs of {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
