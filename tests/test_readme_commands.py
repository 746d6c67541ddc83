"""The README's command blocks, run as written, in order, in a scratch copy of the checkout with no `../shared`.

Each `llmbench` command must succeed (or exit with the code its comment states), or, where it needs what a fresh
clone lacks (a published data set, an API key), stop with a message that names the exact fetch step or the key
variable: never a traceback. `export` lines set the block's environment, a line ending in `&` runs in the
background until `kill $!`, and the servers (`serve`, `ui`) run until they answer. What is not run here says where
it is run instead (SETUP). The team blocks (`<!-- team:... -->`) are run by tests/test_readme_team.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Programs the README shows that this test does not run, and where each is run instead.
SETUP = {
    "python3": "command 1's set-up: .ci/run makes a fresh venv on a clean clone",
    "bash": "command 2 (scripts/test.sh) is what .ci/run runs",
    "pip": "installing extras: scripts/test.sh installs the test extras",
    ".venv/bin/pip": "as pip",
    "git": "cloning needs the internet; tests/test_public_data.py checks these fetch steps are the readers' own",
    "initdb": "a local PostgreSQL for trying the shared store: tests/test_readme_team.py starts its own",
    "pg_ctl": "as initdb",
    "ray": "tests/test_readme_team.py runs the Ray block",
    ".venv/bin/jupyter": "interactive; tests/test_notebooks.py executes every notebook",
}
# What a `python` line runs that this test does not, and where it is run instead.
SCRIPTS = {"llmbench.testing.notebooks": "tests/test_notebooks.py executes and checks every notebook"}
NEEDS = re.compile(r"git clone https://|[A-Z]+_API_KEY")  # what a fresh clone may lack, named in the message
SERVERS = {"serve": "http://127.0.0.1:8000/v1/models", "ui": "http://127.0.0.1:5000/"}


@dataclass
class Command:
    line: int
    argv: list[str]
    background: bool
    exit_code: int  # what the README says it exits with (0 unless its comment says "exit code N")


def blocks() -> Iterator[list[Command]]:
    """The README's bash blocks (not the team ones) as commands: comments cut, `&&` chains split."""
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```bash" or (i > 0 and lines[i - 1].startswith("<!-- team:")):
            i += 1
            continue
        block: list[Command] = []
        i += 1
        while lines[i].strip() != "```":
            text, _, comment = lines[i].partition("  #")
            text = "" if text.lstrip().startswith("#") else text.strip()
            code = re.search(r"exit code (\d+)", comment)
            background = text.endswith("&")
            for part in filter(None, (p.strip() for p in text.rstrip("&").split("&&"))):
                block.append(Command(i + 1, shlex.split(part), background, int(code[1]) if code else 0))
            i += 1
        yield block


def _program(argv: list[str]) -> str:
    return argv[0].removeprefix(".venv/bin/") if argv[0] in (".venv/bin/llmbench", ".venv/bin/python") else argv[0]


def test_every_readme_command_is_run_or_says_where_it_is() -> None:
    """The parser sees the README's commands, and each program is one this test runs or knows to leave."""
    commands = [c for b in blocks() for c in b]
    assert len([c for c in commands if _program(c.argv) == "llmbench"]) >= 30
    unknown = {c.argv[0] for c in commands} - {*SETUP, "llmbench", ".venv/bin/llmbench", "python", ".venv/bin/python",
                                                "export", "kill"}  # fmt: skip
    assert unknown == set(), f"README programs this test neither runs nor lists in SETUP: {unknown}"


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:  # it answers (an error status is an answer)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # as Ctrl-C would
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _stopped(background: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in background:
            _stop(proc)


@pytest.mark.slow  # every README command: evals, router training, servers
def test_the_readme_commands_run_as_written(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "checkout"
    for folder in ("experiments", "datasets", "examples", "benchmarks"):
        shutil.copytree(ROOT / folder, checkout / folder)
    monkeypatch.delenv("LLMBENCH_STORE", raising=False)
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "LLMBENCH_BFCL_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LLMBENCH_SHARED_DATA", str(tmp_path / "shared" / "data"))  # absent, as on a fresh clone
    monkeypatch.chdir(checkout)
    bin_dir = str(Path(sys.executable).parent)
    ran = 0
    for block in blocks():
        background: list[subprocess.Popen[bytes]] = []
        with monkeypatch.context() as env, _stopped(background):
            for command in block:
                program, args = _program(command.argv), command.argv[1:]
                where = f"README line {command.line}: {shlex.join(command.argv)}"
                if program in SETUP or any(s in args for s in SCRIPTS) or any(s in " ".join(args) for s in SCRIPTS):
                    continue
                if program == "export":
                    for pair in args:
                        name, _, value = pair.partition("=")
                        env.setenv(name, value)
                    continue
                if program == "kill":
                    _stop(background.pop())
                    continue
                if program == "python" and command.background:
                    proc = subprocess.Popen([sys.executable, *args], cwd=checkout, env={**os.environ})
                    background.append(proc)
                    port = args[args.index("--port") + 1]
                    _wait_for(f"http://127.0.0.1:{port}/v1/models", proc)
                    continue
                if program == "python":  # a script: a process of its own
                    done = subprocess.run([sys.executable, *args], cwd=checkout, capture_output=True, text=True,
                                          timeout=600, env={**os.environ})  # fmt: skip
                    said = done.stdout + done.stderr
                    assert done.returncode == 0 or NEEDS.search(said), (where, done.returncode, said[-2000:])
                    assert "Traceback" not in said, (where, said)
                    ran += 1
                    continue
                assert program == "llmbench", where
                if args and args[0] in SERVERS:
                    proc = subprocess.Popen([os.path.join(bin_dir, "llmbench"), *args], cwd=checkout,
                                            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})  # fmt: skip
                    try:
                        _wait_for(SERVERS[args[0]], proc)
                    finally:
                        _stop(proc)
                    ran += 1
                    continue
                result = cli(*args, cwd=checkout)
                said = result.stdout + result.stderr
                assert "Traceback" not in said, (where, said)
                if result.returncode != command.exit_code:
                    assert NEEDS.search(said), (where, result.returncode, said[-2000:])
                ran += 1
    assert ran >= 30
    assert (checkout / "live.html").is_file() and (checkout / "report.html").is_file()
