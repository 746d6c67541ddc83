"""The public data sets llmbench reads, each with where it comes from: a reader that cannot find one says how to
fetch it (the exact commands), instead of only that a path is missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmbench.errors import DataError

__all__ = ["PUBLIC_DATA", "PublicData"]


@dataclass(frozen=True)
class PublicData:
    """A published data set: its repository at a known commit, and the folder inside it that llmbench reads."""

    title: str
    repository: str  # https URL of the git repository
    commit: str
    folder: str  # inside a clone: what to point llmbench at
    license: str
    shared: str  # where the examples and tests look for it, under ../shared/data (or $LLMBENCH_SHARED_DATA)

    @property
    def clone(self) -> str:
        """The folder name `git clone` makes."""
        return self.repository.rstrip("/").rsplit("/", 1)[-1]

    def fetch(self) -> str:
        """The commands that fetch it on a machine with internet, and the path to give llmbench then."""
        return (
            f"git clone {self.repository} && git -C {self.clone} checkout {self.commit}"
            f" (then pass {self.clone}/{self.folder})"
        )

    def missing(self, path: str | Path, what: str) -> DataError:
        """The error for a path that does not hold this data: what was expected, and how to get it."""
        return DataError(
            f"{what} {path} does not exist. {self.title} is published at {self.repository} ({self.license}); "
            f"fetch it with: {self.fetch()}"
        )


PUBLIC_DATA: dict[str, PublicData] = {
    "routerbench": PublicData(
        "RouterBench's logged runs (11 models)", "https://github.com/shuhao02/RouterDC", "0e63989",
        "datasets/routerbench_zs", "no license stated: research use", "routerdc/datasets/routerbench_zs"),
    "routellm": PublicData(
        "RouteLLM's GPT-4 vs Mixtral outcomes", "https://github.com/lm-sys/RouteLLM", "0b64fda",
        "routellm/evals", "Apache-2.0", "routellm"),
    "alpacaeval": PublicData(
        "AlpacaEval 1.0 (GPT-4 preferences, leaderboard)", "https://github.com/tatsu-lab/alpaca_eval", "cd543a1",
        "results", "code Apache-2.0, data CC BY-NC 4.0", "alpacaeval"),
    "bfcl": PublicData(
        "The Berkeley Function-Calling Leaderboard's cases", "https://github.com/ShishirPatil/gorilla", "6ea5797",
        "berkeley-function-call-leaderboard/bfcl_eval/data", "Apache-2.0", "bfcl"),
    "llmbar": PublicData(
        "LLMBar's judge verdicts", "https://github.com/princeton-nlp/LLMBar", "900616b", "Dataset/LLMBar", "MIT",
        "llmbar/Dataset/LLMBar"),
}  # fmt: skip
