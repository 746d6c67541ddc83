"""Plain data over a pipe between the test runner and the solution server (stdlib only: both run sandboxed).

Values are sent as tagged JSON and rebuilt without executing anything: None, bool, int, float (inf/nan too),
complex, str, bytes, list, tuple, set, frozenset and dict. Anything else stays in the solution's process and
travels as a reference number, so no object of the model's (with its own `__eq__` or `__bool__`) ever reaches
the process that decides the verdict. Messages are single lines with a size cap.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

MAX_MESSAGE = 16 * 1024 * 1024  # bytes of one message; a bigger answer is an error, not an allocation
MAX_DEPTH = 200


class WireError(Exception):
    """A message that is too big, too deep or not in the protocol."""


def encode(value: Any, keep: Any = None, depth: int = 0) -> Any:
    """`value` as tagged JSON data; objects that are not plain data become {"ref": n} via `keep(obj) -> n`."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, complex):
        return {"complex": [encode(value.real), encode(value.imag)]}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode("ascii")}
    if type(value) in (list, tuple, set, frozenset):
        tag = type(value).__name__
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return {tag: [encode(v, keep, depth + 1) for v in items]}
    if type(value) is dict:
        return {"dict": [[encode(k, keep, depth + 1), encode(v, keep, depth + 1)] for k, v in value.items()]}
    if keep is None:
        raise WireError(f"{type(value).__name__} is not plain data")
    return {"ref": keep(value)}


def decode(data: Any, ref: Any = None, depth: int = 0) -> Any:
    """The value `encode` made; {"ref": n} becomes `ref(n)` (a proxy), or an error without `ref`."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if not isinstance(data, dict) or len(data) != 1:
        raise WireError("malformed value")
    ((tag, body),) = data.items()
    if tag == "int":
        return int(body)
    if tag == "float":
        return float(body)
    if tag == "complex":
        return complex(decode(body[0]), decode(body[1]))
    if tag == "bytes":
        return base64.b64decode(body)
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [decode(v, ref, depth + 1) for v in body]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        return {decode(k, ref, depth + 1): decode(v, ref, depth + 1) for k, v in body}
    if tag == "ref" and ref is not None and isinstance(body, int):
        return ref(body)
    raise WireError(f"unknown value tag {tag!r}")


def send(stream: Any, message: dict[str, Any]) -> None:
    """Write one message (a JSON line) and flush."""
    line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_MESSAGE:
        raise WireError(f"message of {len(line)} bytes exceeds the {MAX_MESSAGE}-byte limit")
    stream.write(line)
    stream.flush()


def receive(stream: Any) -> dict[str, Any]:
    """Read one message; EOF, oversize or non-JSON is a WireError."""
    line = stream.readline(MAX_MESSAGE + 1)
    if not line:
        raise WireError("the other side closed the pipe")
    if len(line) > MAX_MESSAGE:
        raise WireError("message too large")
    try:
        message = json.loads(line)
    except ValueError:
        raise WireError("malformed message") from None
    if not isinstance(message, dict):
        raise WireError("malformed message")
    return message
