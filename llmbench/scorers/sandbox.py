"""A security boundary for model-written code: bubblewrap (Linux namespaces) around two processes.

One sandbox runs the model's code (`_solution_server.py`), another runs the item's tests (`_test_runner.py`);
they share nothing but two pipes that carry plain data, so the verdict, written by the test runner to a pipe
only the evaluator holds, cannot be forged from the model's code. Each sandbox has:

- no network (its own empty network namespace), its own PID namespace (every descendant dies with it, and
  the evaluator's processes and their environments are invisible), IPC and UTS namespaces;
- a read-only view of the system's libraries and the Python installation only (not the home directory or the
  project), a private tmpfs at /tmp as the only writable place, and an empty environment;
- limits on CPU seconds, address space, processes, open files and file size; a wall-clock timeout after
  which, or on cancellation, both sandboxes are killed.

Without bubblewrap the scorer refuses to run code unless the user opts in with `--unsafe-code`
(`unsafe_code: true`); then the same two processes run as plain subprocesses with the same limits and an empty
environment, which guards against accidents but is not a security boundary. See SECURITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.errors import ConfigError

__all__ = ["HARNESS_DIR", "Limits", "bwrap_available", "run_tests"]

HARNESS_DIR = Path(__file__).resolve().parent
_OUTPUT_LIMIT = 4 * 1024 * 1024  # bytes a sandboxed process may write to a file (RLIMIT_FSIZE)
_VERDICT_LIMIT = 1024 * 1024
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or, only on "
    "a machine you can afford to lose, run the code unsandboxed with --unsafe-code (unsafe_code: true)"
)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one scored item (per sandboxed process, except the wall clock)."""

    timeout_s: float = 10.0
    memory_mb: int = 512
    processes: int = 32
    open_files: int = 64


def _python() -> str:
    """The real interpreter binary (a venv's python is a symlink to it; the venv itself is not mounted)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _ro_binds() -> list[str]:
    """Read-only binds of what Python needs: system libraries and the Python installation, parents world-readable."""
    args: list[str] = []
    for path in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        parts = Path(prefix).parts
        for i in range(2, len(parts)):  # e.g. /root is 0700 on the host: make the parents traversable
            args += ["--perms", "0755", "--dir", str(Path(*parts[:i]))]
        args += ["--ro-bind", prefix, prefix]
    return args


def _bwrap_argv(bind: Path, mount: str) -> list[str]:
    root = os.getuid() == 0
    argv = [
        "bwrap",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    if root:  # the sandboxed script drops to nobody itself, so process limits apply (they do not to root)
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user"]
    argv += ["--die-with-parent", "--new-session", *_ro_binds()]
    argv += ["--ro-bind", str(HARNESS_DIR), "/harness", "--ro-bind", str(bind), mount]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp", "--clearenv"]
    argv += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LC_ALL", "C.UTF-8"]
    argv += ["--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--"]
    return argv


@functools.cache
def bwrap_available() -> str | None:
    """None when bubblewrap can start a sandbox here, else the reason it cannot (checked once per process)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory(prefix="llmbench-probe-") as tmp:
        argv = [*_bwrap_argv(Path(tmp), "/code"), _python(), "-I", "-S", "-c", "pass"]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, env={}, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start: {exc}"
    if done.returncode != 0:
        return (
            f"bubblewrap could not start a sandbox here: {done.stderr.decode(errors='replace').strip()[:200]}"
        )
    return None


def _limiter(limits: Limits) -> Any:
    def apply() -> None:  # between fork and exec of bwrap; inherited by everything inside
        mem = limits.memory_mb * 1024 * 1024
        cpu = max(1, int(limits.timeout_s) + 1)
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_OUTPUT_LIMIT, _OUTPUT_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        # RLIMIT_NPROC is set by the sandboxed scripts themselves, once they run as an unprivileged user inside
        # their own user namespace: set here it would count every process of the evaluator's user

    return apply


def _kill(proc: asyncio.subprocess.Process | None) -> None:
    if proc is not None and proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


async def run_tests(solution: str, tests: str, limits: Limits, *, unsafe: bool = False) -> dict[str, Any]:
    """Run `tests` against `solution` in two sandboxes (or, with `unsafe`, two plain subprocesses); the verdict
    {"passed", "total", "error", "failures"} or {"error": "timed out ..."}. Raises ConfigError when no sandbox
    can start and `unsafe` is off."""
    if not unsafe:
        why = bwrap_available()
        if why is not None:
            raise ConfigError(f"refusing to run model-written code without a sandbox: {why}; {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="llmbench-code-") as tmp:
        code_dir, tests_dir = Path(tmp, "code"), Path(tmp, "tests")
        code_dir.mkdir()
        tests_dir.mkdir()
        for d in (code_dir, tests_dir, Path(tmp)):
            d.chmod(0o755)  # readable by nobody, the sandboxed user
        (code_dir / "solution.py").write_text(solution, encoding="utf-8")
        (tests_dir / "tests.py").write_text(tests, encoding="utf-8")
        for f in (code_dir / "solution.py", tests_dir / "tests.py"):
            f.chmod(0o644)
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        python = [_python(), "-I", "-S"]
        if unsafe:
            server = [*python, str(HARNESS_DIR / "_solution_server.py"), str(HARNESS_DIR),
                      str(code_dir / "solution.py"), str(req_r), str(resp_w), str(limits.processes)]  # fmt: skip
            runner = [*python, str(HARNESS_DIR / "_test_runner.py"), str(HARNESS_DIR),
                      str(tests_dir / "tests.py"), str(req_w), str(resp_r), str(limits.processes)]  # fmt: skip
        else:
            server = [*_bwrap_argv(code_dir, "/code"), *python, "/harness/_solution_server.py", "/harness",
                      "/code/solution.py", str(req_r), str(resp_w), str(limits.processes)]  # fmt: skip
            runner = [*_bwrap_argv(tests_dir, "/tests"), *python, "/harness/_test_runner.py", "/harness",
                      "/tests/tests.py", str(req_w), str(resp_r), str(limits.processes)]  # fmt: skip
        common: dict[str, Any] = {"cwd": tmp, "env": {"PATH": os.defpath, "HOME": tmp, "LC_ALL": "C.UTF-8"},
                                  "stdin": subprocess.DEVNULL, "start_new_session": True,
                                  "preexec_fn": _limiter(limits)}  # fmt: skip
        solver = tester = None
        try:
            solver = await asyncio.create_subprocess_exec(
                *server,
                pass_fds=(req_r, resp_w),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **common,
            )
            tester = await asyncio.create_subprocess_exec(
                *runner, pass_fds=(req_w, resp_r), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **common
            )
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            req_r = req_w = resp_r = resp_w = -1
            assert tester.stdout is not None
            try:
                out = await asyncio.wait_for(tester.stdout.read(_VERDICT_LIMIT), limits.timeout_s)
                await asyncio.wait_for(tester.wait(), limits.timeout_s)
            except TimeoutError:
                return {"error": f"timed out after {limits.timeout_s:g}s (killed)", "passed": 0, "total": 1}
        finally:
            _kill(tester)
            _kill(solver)
            for fd in (req_r, req_w, resp_r, resp_w):
                if fd >= 0:
                    os.close(fd)
            for proc in (tester, solver):
                if proc is not None:
                    with contextlib.suppress(ProcessLookupError):
                        await proc.wait()
    return _verdict(out, tester.returncode)


def _verdict(out: bytes, returncode: int | None) -> dict[str, Any]:
    lines = out.decode("utf-8", "replace").strip().splitlines()
    if lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            result = None
        if isinstance(result, dict) and isinstance(result.get("total"), int) and result["total"] >= 1:
            return result  # zero tests run is never a verdict: it falls through to an error
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        why = {"SIGXCPU": "CPU time limit", "SIGXFSZ": "file size limit", "SIGKILL": "killed"}.get(name, name)
        return {"error": f"the test run was stopped by {name} ({why})", "passed": 0, "total": 1}
    return {"error": f"the test run crashed (exit {returncode}) without a verdict", "passed": 0, "total": 1}
