"""Runs an item's tests against the model's code, which lives in another sandbox and is reached only by calls.

Usage (inside its own sandbox): python -I -S _test_runner.py HARNESS_DIR TESTS REQUEST_FD RESPONSE_FD MAX_PROCESSES UID.
Names the solution defines appear here as proxies: calling one sends plain arguments to the solution server and
brings back a plain value (or a reference to an object that stays there). Assertions are evaluated here, on
plain data, so the model's code cannot print, `atexit` or monkeypatch its way to a verdict: the verdict is the
one line this process writes to its own stdout, which nothing in the solution's sandbox can reach. Tests are
top-level asserts (one test) or `test_*` functions and `Test*` classes (each test counted), found by parsing the
test file: a solution's names never add, hide or replace a test, and never shadow a builtin. A test file that
checks nothing is an error, not a pass. Run by llmbench.scorers.sandbox.
"""

import ast
import asyncio
import builtins
import inspect
import json
import os
import sys
import traceback
import types
from collections.abc import Iterator
from typing import IO, Any


def _brief(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 300 else text[:297] + "..."


def main() -> int:
    harness, tests_path, req_fd, resp_fd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sys.path.insert(0, harness)
    import _solution_server
    import _wire

    _solution_server.drop_privileges(int(sys.argv[5]), int(sys.argv[6]))
    verdict = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything the tests print goes to stderr; stdout carries the verdict alone
    sys.stdout = sys.stderr
    requests, responses = os.fdopen(req_fd, "wb"), os.fdopen(resp_fd, "rb")
    counter = [0]

    def ask(op: str, **fields: Any) -> dict[str, Any]:
        counter[0] += 1
        _wire.send(requests, {"id": counter[0], "op": op, **fields})
        reply = _wire.receive(responses)
        if "error" in reply:
            err = reply["error"]
            kind = getattr(builtins, str(err.get("type")), None)
            if isinstance(kind, type) and issubclass(kind, Exception) and kind is not AssertionError:
                raise kind(err.get("message", ""))
            raise RuntimeError(f"{err.get('type')}: {err.get('message', '')}")
        return dict(reply)

    class Remote:
        """An object of the solution's: callable, attributes, iteration, len, indexing; never compared."""

        def __init__(self, ref: int) -> None:
            self._ref = ref

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            data = ask(
                "call",
                target=self._ref,
                args=[_wire.encode(a) for a in args],
                kwargs={k: _wire.encode(v) for k, v in kwargs.items()},
            )
            return _wire.decode(data["value"], Remote)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            return _wire.decode(ask("getattr", target=self._ref, name=name)["value"], Remote)

        def __iter__(self) -> Iterator[Any]:
            return iter(_wire.decode(ask("list", target=self._ref)["value"], Remote))

        def __len__(self) -> int:
            return int(ask("len", target=self._ref)["value"])

        def __getitem__(self, key: Any) -> Any:
            return _wire.decode(ask("getitem", target=self._ref, key=_wire.encode(key))["value"], Remote)

        def __str__(self) -> str:
            return str(ask("str", target=self._ref)["value"])

        def __bool__(self) -> bool:
            raise TypeError("the truth of an object that is not plain data is not trusted; return a bool")

        def __eq__(self, other: object) -> bool:
            raise TypeError("objects that are not plain data are not compared; return plain data")

        __hash__ = object.__hash__

    result: dict[str, Any] = {"passed": 0, "total": 0, "error": None, "failures": []}
    try:
        names = ask("names")
    except Exception as exc:
        result["total"] = 1
        result["error"] = "the solution did not start: " + _brief(exc)
        return report(verdict, result)
    if names.get("load_error"):
        result["total"] = 1
        result["error"] = "solution raised " + names["load_error"]
        return report(verdict, result)
    with open(tests_path, encoding="utf-8") as fh:
        tests = fh.read()
    try:
        found = discover(tests)
    except SyntaxError as exc:
        result["total"] = 1
        result["error"] = "tests failed: " + _brief(exc)
        return report(verdict, result)
    if not found.functions and not found.asserts:
        result["total"] = 1
        result["error"] = "the tests check nothing: no test_* function, no Test* class and no assert"
        return report(verdict, result)
    # The solution's names, except those it may not shadow: the real builtins and dunders stay the tests' own,
    # and whatever the tests define themselves is bound after these (by the exec below), so it wins too.
    namespace: dict[str, Any] = {"__name__": "tests"}
    for name, entry in names["names"].items():
        if name.startswith("__") or name in _BUILTIN_NAMES:
            continue
        namespace[name] = Remote(entry["ref"]) if "ref" in entry else _wire.decode(entry["value"])
    try:
        exec(compile(tests, "tests.py", "exec"), namespace)
    except BaseException as exc:
        result["total"] = 1
        result["error"] = "tests failed: " + _brief(exc)
        result["traceback"] = traceback.format_exc(limit=-3)
        return report(verdict, result)
    if not found.functions:  # the module's own asserts were the one test, and they held
        result["total"] = result["passed"] = 1
        return report(verdict, result)
    result["total"] = len(found.functions)
    for owner, name in found.functions:
        label = f"{owner}.{name}" if owner else name
        try:
            run_one(namespace, owner, name)
            result["passed"] += 1
        except BaseException as exc:
            result["failures"].append(f"{label}: {_brief(exc)}")
    return report(verdict, result)


_BUILTIN_NAMES = frozenset(dir(builtins))


class Found:
    """What the test file itself declares: its test functions (by the file's parse, never by the names present
    after running it, which the solution could supply) and whether it asserts anything at all."""

    def __init__(self, functions: list[tuple[str | None, str]], asserts: bool) -> None:
        self.functions, self.asserts = functions, asserts


def discover(source: str) -> Found:
    """Top-level `test*` functions and `test*` methods of top-level `Test*` classes, each once, in file order."""
    tree = ast.parse(source, "tests.py")
    functions: dict[tuple[str | None, str], None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            functions[(None, node.name)] = None
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and member.name.startswith(
                    "test"
                ):
                    functions[(node.name, member.name)] = None
    asserts = any(isinstance(n, ast.Assert) for n in ast.walk(tree))
    return Found(list(functions), asserts)


def run_one(namespace: dict[str, Any], owner: str | None, name: str) -> None:
    """Call one discovered test as the tests' module defined it (a method on a fresh instance of its class)."""
    target = namespace.get(owner or name)
    if owner is not None:
        if not isinstance(target, type):
            raise TypeError(f"{owner} is not a class of the tests")
        target = getattr(target(), name)
    elif not isinstance(target, types.FunctionType):
        raise TypeError(f"{name} is not a function of the tests")
    outcome = target()
    if inspect.iscoroutine(outcome):
        asyncio.run(outcome)


def report(stream: IO[str], result: dict[str, Any]) -> int:
    stream.write(json.dumps(result) + "\n")
    stream.flush()
    return 0


if __name__ == "__main__":
    os._exit(main())
