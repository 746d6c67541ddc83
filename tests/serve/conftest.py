"""Fixtures of the gateway tests (defined in gateway_helpers, shared by every module here)."""

from gateway_helpers import policy, upstream

__all__ = ["policy", "upstream"]
