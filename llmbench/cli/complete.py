"""`llmbench` commands of this area."""

from llmbench.cli.app import app  # noqa: F401
