"""The README's "Working as a team" PostgreSQL commands, run as written (each `llmbench ...` line of the block
after the `team:postgres` marker) with `LLMBENCH_STORE` naming a throwaway PostgreSQL database."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def team_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- team:postgres.*?-->\s*```bash\n(.*?)```", text, re.S)
    assert block, "the README lost its team:postgres block"
    lines = [line.split("  #")[0].strip() for line in block[1].splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("llmbench ")]


@pytest.mark.slow  # a real PostgreSQL server
def test_the_readme_team_commands_run_as_written(pg_url: str, tmp_path: Path, cli, monkeypatch) -> None:
    commands = team_commands()
    assert [c[0] for c in commands] == ["eval", "runs", "export", "router"]
    monkeypatch.setenv("LLMBENCH_STORE", pg_url)
    for args in commands:
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert (tmp_path / "policy.json").is_file() and any((tmp_path / "shared-runs").rglob("*.parquet"))
    again = cli("eval", "--no-track", cwd=tmp_path)  # the same store: everything finished is skipped
    assert again.returncode == 0 and "spent $0.0000 in this run" in again.stdout
