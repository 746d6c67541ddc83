"""Runs the model's code in its sandbox and answers calls from the test runner, one JSON line at a time.

Usage (inside the sandbox): python -I -S _solution_server.py HARNESS_DIR SOLUTION REQUEST_FD RESPONSE_FD MAX_PROCESSES UID.
It never sees the tests and never reports a verdict: it only executes the solution and returns values. Run by
llmbench.scorers.sandbox, never imported.
"""

import os
import sys
from typing import Any


def drop_privileges(max_processes: int, uid: int) -> None:
    """Leave root (the sandbox starts as root when the evaluator is root) for a user id of this sandbox's own, then
    cap the processes (the kernel does not apply the process limit to root). A user of its own means a kernel
    keyring of its own and a process count of its own; without root, the sandbox's user namespace gives both."""
    import resource

    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


def main() -> int:
    harness, solution_path, req_fd, resp_fd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sys.path.insert(0, harness)
    import _wire

    drop_privileges(int(sys.argv[5]), int(sys.argv[6]))
    requests = os.fdopen(req_fd, "rb")
    responses = os.fdopen(resp_fd, "wb")
    objects: dict[int, Any] = {}

    def keep(obj: Any) -> int:
        objects[len(objects) + 1] = obj
        return len(objects)

    def value(obj: Any) -> Any:
        return _wire.encode(obj, keep)

    namespace: dict[str, Any] = {"__name__": "solution"}
    with open(solution_path, encoding="utf-8") as fh:
        source = fh.read()
    try:
        exec(compile(source, "solution.py", "exec"), namespace)
        loaded = None
    except BaseException as exc:  # the model's code may raise anything, SystemExit included
        loaded = f"{type(exc).__name__}: {exc}"[:300]
    while True:
        try:
            request = _wire.receive(requests)
        except _wire.WireError:
            return 0  # the runner is done
        reply = {"id": request.get("id")}
        try:
            op = request.get("op")
            if op == "names":
                if loaded is not None:
                    reply["load_error"] = loaded
                names: dict[str, Any] = {}
                for name, obj in namespace.items():
                    if name.startswith("__"):
                        continue
                    try:
                        names[name] = {"value": _wire.encode(obj)}
                    except _wire.WireError:
                        names[name] = {"ref": keep(obj)}
                reply["names"] = names
            else:
                target: Any = objects[request["target"]] if "target" in request else None

                def decode(data: Any) -> Any:
                    return _wire.decode(data, objects.__getitem__)

                if op == "call":
                    args = [decode(a) for a in request.get("args", [])]
                    kwargs = {k: decode(v) for k, v in request.get("kwargs", {}).items()}
                    reply["value"] = value(target(*args, **kwargs))
                elif op == "getattr":
                    reply["value"] = value(getattr(target, request["name"]))
                elif op == "list":
                    reply["value"] = value(list(target))
                elif op == "len":
                    reply["value"] = len(target)
                elif op == "getitem":
                    reply["value"] = value(target[decode(request["key"])])
                elif op == "str":
                    reply["value"] = str(target)[:10000]
                else:
                    reply["error"] = {"type": "RuntimeError", "message": f"unknown operation {op!r}"}
        except BaseException as exc:  # report it as the call's exception; the runner decides what it means
            reply["error"] = {"type": type(exc).__name__, "message": str(exc)[:300]}
        try:
            _wire.send(responses, reply)
        except _wire.WireError as exc:
            _wire.send(responses, {"id": reply["id"], "error": {"type": "MemoryError", "message": str(exc)}})


if __name__ == "__main__":
    os._exit(main())
