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
import glob
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbench.errors import ConfigError
from llmbench.scorers.cgroup import ItemGroup

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
    """Resource limits of one scored item (per sandboxed process, except the wall clock). `timeout_s` is CPU time:
    what "too slow" means for code, and unlike wall-clock time it does not grow when the machine is busy; the
    wall clock (`wall_s`, default five times that and at least 30 s) only catches code that blocks."""

    timeout_s: float = 10.0
    wall_s: float | None = None
    memory_mb: int = 512
    processes: int = 32
    open_files: int = 64

    @property
    def wall(self) -> float:
        return self.wall_s if self.wall_s is not None else max(30.0, 5 * self.timeout_s)


def _python() -> str:
    """The real interpreter binary (a venv's python is a symlink to it; the venv itself is not mounted)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


# System libraries and commands; not all of /usr, where projects (/usr/src/app, /usr/local/app) often live
_SYSTEM = (
    "/lib",
    "/lib64",
    "/lib32",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/bin",
    "/usr/bin",
    "/etc/ld.so.cache",
    "/etc/localtime",
)


def _inside(path: str, roots: tuple[str, ...] | list[str]) -> str | None:
    """The root of `roots` that `path` is (or is below), else None."""
    return next((r for r in roots if path == r or path.startswith(r.rstrip("/") + "/")), None)


@functools.cache
def bound_paths() -> tuple[str, ...]:
    """Every host path the sandbox sees (read-only, resolved): system libraries and commands, the interpreter
    binary, its standard library and its shared library; nothing else of the Python installation."""
    paths: list[str] = []
    for path in _SYSTEM:
        real = os.path.realpath(path)
        if os.path.exists(real) and not _inside(real, paths):
            paths.append(real)
    base = {
        "installed_base": sys.base_prefix,
        "base": sys.base_prefix,
        "platbase": sys.base_prefix,
        "installed_platbase": sys.base_prefix,
    }
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    wanted = [_python(), sysconfig.get_path("stdlib", vars=base), sysconfig.get_path("platstdlib", vars=base)]
    wanted += glob.glob(os.path.join(libdir, "libpython*.so*")) if libdir else []
    for path in map(os.path.realpath, wanted):
        if os.path.exists(path) and not _inside(path, paths):
            paths.append(path)
    return tuple(paths)


def exposed(*places: str | Path) -> str | None:
    """Why the sandbox would show one of `places` (e.g. the project, the run store), or None when it would not."""
    roots = bound_paths()
    for place in places:
        real = os.path.realpath(place)
        root = _inside(real, roots)
        if root is not None:
            return (
                f"{real} is inside {root}, which the sandbox shows to model-written code (it holds system "
                "libraries or the Python installation); move the project and the run store out of it"
            )
    return None


def _ro_binds() -> list[str]:
    """Read-only binds of `bound_paths`, every parent made traversable (e.g. /root is 0700 on the host, and a
    mount point bwrap creates by itself is not readable by the sandbox's own user)."""
    args: list[str] = []
    bound = bound_paths()
    made: set[str] = set()
    for path in bound:
        parts = Path(path).parts
        for i in range(2, len(parts)):
            parent = str(Path(*parts[:i]))
            if parent not in made and not _inside(parent, bound):
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", path, path]
    for link in _SYSTEM:  # merged /usr: /lib64 -> usr/lib64 holds the dynamic loader every binary names
        if os.path.islink(link) and os.path.exists(link):
            args += ["--symlink", os.readlink(link), link]
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


_HARNESS_MB = 64  # the test runner's and bwrap's share of an item's cgroup, beside the solution's memory_mb
_MIN_PROCESS_MB = 64  # what one sandboxed Python needs, at the least, of address space


def process_limits(limits: Limits, grouped: bool) -> tuple[int, int]:
    """(address space MB per process, processes) of one sandbox. In a cgroup the item's total is capped there,
    so each process may use it all; without one, the per-process limit times the process limit stays within the
    total, so more processes cannot multiply the memory (fewer processes are allowed instead)."""
    if grouped:
        return limits.memory_mb, limits.processes
    per_process = max(_MIN_PROCESS_MB, limits.memory_mb // limits.processes)
    return per_process, max(1, min(limits.processes, limits.memory_mb // per_process))


def _limiter(limits: Limits, group: ItemGroup | None) -> Any:
    memory_mb, _ = process_limits(limits, group is not None)

    def apply() -> None:  # between fork and exec of bwrap; inherited by everything inside
        if group is not None:
            group.join()
        mem = memory_mb * 1024 * 1024
        cpu = max(1, int(limits.timeout_s) + 1)
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_OUTPUT_LIMIT, _OUTPUT_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        # RLIMIT_NPROC is set by the sandboxed scripts themselves, once they run as an unprivileged user inside
        # their own user namespace: set here it would count every process of the evaluator's user

    return apply


def _sandbox_uid() -> int:
    """A user id of its own for each sandbox (when the evaluator is root): the kernel keyring and the process
    count are per user, so no sandbox sees keys another left, and no fork bomb starves another item."""
    return secrets.randbelow(1 << 30) + (1 << 20)


def _kill(proc: asyncio.subprocess.Process | None) -> None:
    if proc is not None and proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


async def run_tests(solution: str, tests: str, limits: Limits, *, unsafe: bool = False) -> dict[str, Any]:
    """Run `tests` against `solution` in two sandboxes (or, with `unsafe`, two plain subprocesses); the verdict
    {"passed", "total", "error", "failures"} or {"error": "timed out ..."}. Raises ConfigError when no sandbox
    can start and `unsafe` is off."""
    if not unsafe:
        why = bwrap_available() or exposed(os.getcwd())
        if why is not None:
            raise ConfigError(f"refusing to run model-written code: {why}; {INSTALL_HINT}")
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
        # the item's total: the solution's memory_mb, plus what the test runner and bwrap use beside it
        group = ItemGroup.create((limits.memory_mb + _HARNESS_MB) * 1024 * 1024, 2 * limits.processes + 8)
        _, processes = process_limits(limits, group is not None)
        tail = {who: [str(processes), str(_sandbox_uid())] for who in ("solver", "tester")}
        python = [_python(), "-I", "-S"]
        if unsafe:
            server = [
                *python,
                str(HARNESS_DIR / "_solution_server.py"),
                str(HARNESS_DIR),
                str(code_dir / "solution.py"),
                str(req_r),
                str(resp_w),
                *tail["solver"],
            ]
            runner = [
                *python,
                str(HARNESS_DIR / "_test_runner.py"),
                str(HARNESS_DIR),
                str(tests_dir / "tests.py"),
                str(req_w),
                str(resp_r),
                *tail["tester"],
            ]
        else:
            server = [
                *_bwrap_argv(code_dir, "/code"),
                *python,
                "/harness/_solution_server.py",
                "/harness",
                "/code/solution.py",
                str(req_r),
                str(resp_w),
                *tail["solver"],
            ]
            runner = [
                *_bwrap_argv(tests_dir, "/tests"),
                *python,
                "/harness/_test_runner.py",
                "/harness",
                "/tests/tests.py",
                str(req_w),
                str(resp_r),
                *tail["tester"],
            ]
        common: dict[str, Any] = {
            "cwd": tmp,
            "env": {"PATH": os.defpath, "HOME": tmp, "LC_ALL": "C.UTF-8"},
            "stdin": subprocess.DEVNULL,
            "start_new_session": True,
            "preexec_fn": _limiter(limits, group),
        }
        solver = tester = None
        oom = False
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
                out = await asyncio.wait_for(tester.stdout.read(_VERDICT_LIMIT), limits.wall)
                await asyncio.wait_for(tester.wait(), limits.wall)
            except TimeoutError:
                return _stalled(limits)
        finally:
            _kill(tester)
            _kill(solver)
            if group is not None:
                oom = group.oom_killed()
                group.remove()
            for fd in (req_r, req_w, resp_r, resp_w):
                if fd >= 0:
                    os.close(fd)
            for proc in (tester, solver):
                if proc is not None:
                    with contextlib.suppress(ProcessLookupError):
                        await proc.wait()
    if oom:  # a process of the item was killed for the item's memory: over its limit, whatever it printed
        return {
            "error": f"the code used more than its {limits.memory_mb} MB of memory in total (killed; "
            "MemoryError)",
            "passed": 0,
            "total": 1,
        }
    verdict = _verdict(out, tester.returncode)
    if solver is not None and solver.returncode in (
        -signal.SIGXCPU,
        128 + signal.SIGXCPU,
    ):  # bwrap: 128 + sig
        slow = f"the code used more than its {limits.timeout_s:g} s of CPU time (stopped: too slow)"
        if verdict.get("error"):
            verdict["error"] = slow
        else:
            verdict["failures"] = [slow, *(verdict.get("failures") or [])]
    return verdict


def _stalled(limits: Limits) -> dict[str, Any]:
    """No verdict within the wall clock though the CPU limit was not reached: on a machine with more runnable work
    than cores that is the machine's doing (no verdict: the scorer raises ScorerError); on one that is not
    overloaded, the code blocks (sleeps, waits for input) and that is a wrong answer."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load >= cores:
        return {
            "unscorable": f"no verdict within {limits.wall:g} s of wall-clock time while the machine was "
            f"overloaded (load {load:.1f} on {cores} cores): no verdict, which is not a wrong answer"
        }
    return {
        "error": f"the code did not finish within {limits.wall:g} s of wall-clock time, under its "
        f"{limits.timeout_s:g} s CPU limit: it blocks (killed)",
        "passed": 0,
        "total": 1,
    }


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
        why = {
            "SIGXCPU": "its CPU time limit: too slow",
            "SIGXFSZ": "file size limit",
            "SIGKILL": "killed",
        }.get(name, name)
        return {"error": f"the test run was stopped by {name} ({why})", "passed": 0, "total": 1}
    return {"error": f"the test run crashed (exit {returncode}) without a verdict", "passed": 0, "total": 1}
