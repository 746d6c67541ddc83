"""Text made safe for where it goes: the run store (valid Unicode) and the terminal (no markup, no control codes).

Model answers, prompts, tool arguments and upstream error texts are not trusted to be valid Unicode: a lone
UTF-16 surrogate (legal in JSON's `\\ud800` escape, so in any parsed answer) cannot be encoded as UTF-8, and one
such string used to fail a whole group commit. Every text is repaired at the one place rows are built
(`llmbench.store.writes.values`): surrogate pairs are joined, lone surrogates become U+FFFD, the Unicode
replacement character, which is how the repair is recorded in the text itself.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["encodable", "encodable_data", "is_encodable", "printable"]

# C0 controls but tab and newline, DEL and the C1 controls (ESC, CSI ... start terminal escape sequences)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def is_encodable(text: str) -> bool:
    """Whether `text` encodes as UTF-8 as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encodable(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs joined into their character, lone surrogates as U+FFFD."""
    if is_encodable(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def printable(text: str) -> str:
    """`text` safe to show in a terminal: valid Unicode, without control characters (escape sequences included)
    but tab and newline. Rich markup is escaped by the printer (`rich.markup.escape`), not here."""
    return _CONTROL.sub("\ufffd", encodable(text))


def encodable_data(value: Any) -> tuple[Any, bool]:
    """Parsed JSON data with every string (keys too) made `encodable`; and whether anything was repaired."""
    if isinstance(value, str):
        fixed = encodable(value)
        return fixed, fixed is not value
    if isinstance(value, list):
        pairs = [encodable_data(v) for v in value]
        return ([v for v, _ in pairs], True) if any(c for _, c in pairs) else (value, False)
    if isinstance(value, dict):
        changed, out = False, {}
        for k, v in value.items():
            key, c1 = encodable_data(k) if isinstance(k, str) else (k, False)
            val, c2 = encodable_data(v)
            out[key] = val
            changed = changed or c1 or c2
        return (out, True) if changed else (value, False)
    return value, False
