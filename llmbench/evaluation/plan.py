"""What one run of an experiment is made of: its tasks (item, model, epoch) and the providers they go to, and the
fingerprint that says whether a plan already ran to completion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmbench.datasets import Item
from llmbench.evaluation.config import ExperimentConfig
from llmbench.providers import Provider, get_provider
from llmbench.store import stable_hash

__all__ = ["Task", "build_providers", "plan_fingerprint"]


@dataclass
class Task:
    """One (item, model, epoch) to run."""

    item: Item
    model_id: str
    epoch: int
    key: str


def build_providers(cfg: ExperimentConfig, given: dict[str, Provider] | None = None) -> dict[str, Provider]:
    """One provider per model of the experiment (those in `given` are used as they are); raises ConfigError."""
    providers = dict(given or {})
    for m in cfg.models:
        if m not in providers:
            providers[m] = get_provider(
                cfg.ref(m), timeout=cfg.timeout, retry=cfg.max_attempts, seed=cfg.seed
            )
    return providers


def plan_fingerprint(cfg: ExperimentConfig) -> str | None:
    """What decides an experiment's run keys, with each dataset file's size and modification time: equal
    fingerprints mean the same plan. None when a source is not a plain file (e.g. `bfcl:`)."""
    files = []
    for source in cfg.datasets:
        path = Path(source)
        if not path.is_file():
            return None
        st = path.stat()
        files.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return stable_hash([cfg.name, files, cfg.models, cfg.epochs, cfg.limit, cfg.call_params()])
