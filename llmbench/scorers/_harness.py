"""Runs a candidate solution and its tests in a child process; prints one result line tagged with a nonce.

Usage: python -I _harness.py SOLUTION TESTS NONCE. Tests are either top-level asserts (one test) or
`test_*` functions (each one counted). Run by llmbench.scorers.code, never imported.
"""

import json
import sys
import traceback


def _brief(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= 300 else text[:297] + "..."


def main() -> int:
    solution_path, tests_path, nonce = sys.argv[1:4]
    result = {"passed": 0, "total": 0, "error": None, "failures": []}

    def report() -> int:
        sys.stdout.flush()
        print("\n" + nonce + json.dumps(result), flush=True)
        return 0

    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    with open(solution_path, encoding="utf-8") as fh:
        solution = fh.read()
    with open(tests_path, encoding="utf-8") as fh:
        tests = fh.read()
    try:
        exec(compile(solution, "solution.py", "exec"), namespace)
    except BaseException as exc:  # the candidate may raise anything, SystemExit included
        result["total"] = 1
        result["error"] = "solution raised " + _brief(exc)
        return report()
    before = set(namespace)
    try:
        exec(compile(tests, "tests.py", "exec"), namespace)
    except BaseException as exc:
        result["total"] = 1
        result["error"] = "tests failed: " + _brief(exc)
        result["traceback"] = traceback.format_exc(limit=-3)
        return report()
    funcs = [n for n in namespace if n.startswith("test") and n not in before and callable(namespace[n])]
    if not funcs:
        result["total"] = result["passed"] = 1
        return report()
    result["total"] = len(funcs)
    for name in funcs:
        try:
            namespace[name]()
            result["passed"] += 1
        except BaseException as exc:
            result["failures"].append(f"{name}: {_brief(exc)}")
    return report()


if __name__ == "__main__":
    sys.exit(main())
