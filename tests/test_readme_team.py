"""The README's "Working as a team" commands, run as written: each `llmbench ...` line of the block after the
`team:postgres` marker with `LLMBENCH_STORE` naming a throwaway PostgreSQL database, and the `team:ray` block's
`ray` and `llmbench` lines as commands of their own (a real Ray head started and stopped by them)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def team_commands(marker: str = "postgres", tools: tuple[str, ...] = ("llmbench",)) -> list[list[str]]:
    """The command lines of a README block (comments cut) whose program is one of `tools`."""
    text = README.read_text(encoding="utf-8")
    block = re.search(rf"<!-- team:{marker}.*?-->\s*```bash\n(.*?)```", text, re.S)
    assert block, f"the README lost its team:{marker} block"
    lines = [shlex.split(line.split("  #")[0]) for line in block[1].splitlines() if line.strip()]
    return [line if len(tools) > 1 else line[1:] for line in lines if line[0] in tools]


@pytest.mark.slow  # a real PostgreSQL server
def test_the_readme_team_commands_run_as_written(pg_url: str, tmp_path: Path, cli, monkeypatch) -> None:
    commands = team_commands()
    assert [c[0] for c in commands] == ["eval", "runs", "export", "router"]
    monkeypatch.setenv("LLMBENCH_STORE", pg_url)
    for args in commands:
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert (tmp_path / "policy.json").is_file() and any((tmp_path / "shared-runs").rglob("*.parquet"))
    again = cli(*commands[0], cwd=tmp_path)  # the README's eval again, on the same store: all of it is skipped
    assert again.returncode == 0 and "spent $0.0000 in this run" in again.stdout


@pytest.mark.slow  # a Ray head and an eval on it
def test_the_readme_ray_commands_run_as_written(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="Ray is an extra: pip install 'llmbench[ray]'")
    commands = team_commands("ray", tools=("ray", "llmbench"))
    assert [c[:2] for c in commands] == [["ray", "start"], ["llmbench", "eval"], ["ray", "stop"]]
    bin_dir = Path(sys.executable).parent
    try:
        for cmd in commands:
            program = [str(bin_dir / "ray")] if cmd[0] == "ray" else [sys.executable, "-m", "llmbench"]
            done = subprocess.run(
                [*program, *cmd[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, (cmd, done.stdout[-2000:], done.stderr[-2000:])
            if cmd[0] == "llmbench":
                assert "0 failed" in done.stdout and "default-on-ray" in done.stdout
    finally:
        subprocess.run([str(bin_dir / "ray"), "stop", "--force"], capture_output=True, timeout=120)
