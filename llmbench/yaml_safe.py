"""YAML for llmbench's own files (experiments, price files) without alias expansion.

A 600-byte "billion laughs" file of nested aliases expands to gigabytes in PyYAML's `safe_load`; llmbench's files
never need anchors, so an alias is refused with the line it is on.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YAMLAliasError", "load"]


class YAMLAliasError(yaml.YAMLError):
    """The document uses an alias (`*name`), which llmbench's files do not allow."""


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            line = event.start_mark.line + 1 if event.start_mark else "?"
            raise YAMLAliasError(
                f"aliases (*{event.anchor}) are not allowed (line {line}): write the value out instead"
            )
        return super().compose_node(parent, index)


def load(text: str) -> Any:
    """Parse YAML like `yaml.safe_load`, refusing aliases (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_NoAliasLoader)
