"""YAML for llmbench's own files (experiments, price files) without alias expansion.

A 600-byte "billion laughs" file of nested aliases expands to gigabytes in PyYAML's `safe_load`; llmbench's files
never need anchors, so an alias is refused with the line it is on. A key given twice in one mapping is refused
too: PyYAML keeps the last silently, so a visible `max_cost: 0.0001` could be overridden further down.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YAMLAliasError", "YAMLDuplicateKeyError", "load"]


class YAMLAliasError(yaml.YAMLError):
    """The document uses an alias (`*name`), which llmbench's files do not allow."""


class YAMLDuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice (YAML would silently keep the last value)."""


class _NoAliasLoader(yaml.SafeLoader):
    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1 if key_node.start_mark else "?"
            try:
                first = seen.get(key)
                seen.setdefault(key, line)
            except TypeError:  # an unhashable key: the base class says so
                continue
            if first is not None:
                raise YAMLDuplicateKeyError(
                    f"key {key!r} is given twice (lines {first} and {line}); YAML would keep only the last: keep one"
                )
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML's loader methods are untyped
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise YAMLAliasError(
                f"aliases (*{event.anchor}) are not allowed (line {line}): write the value out instead"
            )
        return super().compose_node(parent, index)


def load(text: str) -> Any:
    """Parse YAML like `yaml.safe_load`, refusing aliases (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_NoAliasLoader)
