"""The built wheel carries the shipped datasets and the default experiment, so `llmbench eval` works outside a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_runs_the_default_experiment_away_from_the_repo(tmp_path: Path) -> None:
    # build from a copy: an in-tree build/ folder would keep files the checkout has since dropped
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "mlruns", "*.db", "*.duckdb"
    )
    shutil.copytree(ROOT, src, symlinks=True, ignore=skip)
    dist = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("llmbench-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(site)
    shipped = {p.name for p in (ROOT / "datasets").glob("*.jsonl")}
    assert shipped and {f"llmbench/shipped/datasets/{n}" for n in shipped} <= names
    assert "llmbench/shipped/experiments/default.yaml" in names

    work = tmp_path / "elsewhere"  # no experiments/ or datasets/ here
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, llmbench, llmbench.datasets as d;"
            "print(json.dumps([llmbench.__file__, sorted(d.shipped_datasets())]))",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    module_file, names_found = json.loads(probe.stdout)
    assert Path(module_file).is_relative_to(site)  # the wheel's copy, not the checkout
    assert set(names_found) == {Path(n).stem for n in shipped}
    run = subprocess.run(
        [sys.executable, "-m", "llmbench", "eval", "--limit", "2"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "default-sim" in run.stdout and (work / "llmbench.duckdb").is_file()
