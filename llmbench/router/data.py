"""From the long runs frame to routing matrices, and prompt-grouped splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from llmbench.errors import DataError

__all__ = ["RoutingData", "drop_shared_prompts", "routing_data", "split_by_prompt", "train_test_split"]

REQUIRED = ("item_id", "prompt", "task", "model", "score", "cost_usd")


def _check(frame: pd.DataFrame) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a runs frame (pandas DataFrame), got {type(frame).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"runs frame lacks columns {missing}; see the runs-frame contract (llmbench.imports)")
    if frame.empty:
        raise DataError("runs frame is empty: nothing to route on")


@dataclass
class RoutingData:
    """One row per prompt: text, task, and per-model mean score and cost (nan where unknown)."""

    prompts: list[str]
    tasks: np.ndarray
    item_ids: np.ndarray
    models: list[str]
    quality: np.ndarray  # (n_prompts, n_models)
    cost: np.ndarray  # (n_prompts, n_models)
    latency: np.ndarray | None = None  # (n_prompts, n_models) seconds, when the runs were timed

    def __len__(self) -> int:
        return len(self.prompts)

    def complete(self) -> RoutingData:
        """Only prompts with a known score and cost for every model (what evaluation needs)."""
        ok = np.isfinite(self.quality).all(axis=1) & np.isfinite(self.cost).all(axis=1)
        return self.subset(ok)

    def subset(self, mask: np.ndarray) -> RoutingData:
        """The prompts selected by a boolean mask or index array."""
        idx = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask)
        return RoutingData(
            [self.prompts[i] for i in idx],
            self.tasks[idx],
            self.item_ids[idx],
            list(self.models),
            self.quality[idx],
            self.cost[idx],
            None if self.latency is None else self.latency[idx],
        )

    def columns(self, models: list[str]) -> RoutingData:
        """The same prompts with only these models' columns, in this order."""
        missing = [m for m in models if m not in self.models]
        if missing:
            raise DataError(f"models {missing} are not in the data (it has {self.models})")
        idx = [self.models.index(m) for m in models]
        latency = None if self.latency is None else self.latency[:, idx]
        return RoutingData(
            self.prompts,
            self.tasks,
            self.item_ids,
            list(models),
            self.quality[:, idx],
            self.cost[:, idx],
            latency,
        )


def routing_data(frame: pd.DataFrame, models: list[str] | None = None) -> RoutingData:
    """Pivot a runs frame to per-prompt matrices; epochs are averaged, failed calls count as missing."""
    _check(frame)
    f = frame
    if "experiment" in f.columns and f["experiment"].nunique() > 1:
        key = f["experiment"].astype(str) + "/" + f["item_id"].astype(str)
    else:
        key = f["item_id"].astype(str)
    f = pd.DataFrame(
        {
            "key": key.to_numpy(),
            "prompt": f["prompt"].astype(object).to_numpy(),
            "task": f["task"].astype(object).fillna("unknown").astype(str).to_numpy(),
            "model": f["model"].astype(str).to_numpy(),
            "score": pd.to_numeric(f["score"], errors="coerce").astype(float).to_numpy(),
            "cost": pd.to_numeric(f["cost_usd"], errors="coerce").astype(float).to_numpy(),
            "latency": pd.to_numeric(f["latency_s"], errors="coerce").astype(float).to_numpy()
            if "latency_s" in f.columns
            else np.nan,
        }
    )
    bad = f["score"].dropna()
    if len(bad) and not bad.between(0, 1).all():
        raise DataError("scores must lie in [0, 1]; pick or normalise a score with --score")
    if f["prompt"].isna().any():
        raise DataError(f"{int(f['prompt'].isna().sum())} runs-frame rows have no prompt text")
    all_models = list(dict.fromkeys(f["model"])) if models is None else list(models)
    unknown = set(all_models) - set(f["model"])
    if unknown:
        raise DataError(f"models {sorted(unknown)} do not occur in the runs frame")
    items = f.drop_duplicates("key").set_index("key")
    qual = f.pivot_table(index="key", columns="model", values="score", aggfunc="mean", dropna=False)
    cost = f.pivot_table(index="key", columns="model", values="cost", aggfunc="mean", dropna=False)
    keys = items.index
    qual = qual.reindex(index=keys, columns=all_models)
    cost = cost.reindex(index=keys, columns=all_models)
    timed = f["latency"].notna().any()
    latency = (
        f.pivot_table(index="key", columns="model", values="latency", aggfunc="mean", dropna=False)
        .reindex(index=keys, columns=all_models)
        .to_numpy(dtype=float)
        if timed
        else None
    )
    return RoutingData(
        prompts=[str(p) for p in items["prompt"]],
        tasks=items["task"].to_numpy(dtype=object),
        item_ids=np.asarray(keys, dtype=object),
        models=all_models,
        quality=qual.to_numpy(dtype=float),
        cost=cost.to_numpy(dtype=float),
        latency=latency,
    )


def split_by_prompt(
    data: RoutingData, test_size: float = 0.3, seed: int = 0, stratify: bool = True
) -> tuple[RoutingData, RoutingData]:
    """Train/test split where all rows sharing a prompt text land on the same side (fixed seed)."""
    if not 0 < test_size < 1:
        raise DataError(f"test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(seed)
    groups, inverse = np.unique(np.asarray(data.prompts, dtype=object).astype(str), return_inverse=True)
    group_task = pd.Series(data.tasks).groupby(inverse).first().to_numpy()
    test_groups = np.zeros(len(groups), dtype=bool)
    strata = np.unique(group_task) if stratify else np.array(["all"])
    shuffled, share = [], []
    for task in strata:
        g = np.flatnonzero(group_task == task) if stratify else np.arange(len(groups))
        g = rng.permutation(g)
        shuffled.append(g)
        share.append(len(g) * test_size)
        test_groups[g[: round(len(g) * test_size)]] = True
    want = min(len(groups) - 1, max(1, round(len(groups) * test_size)))
    if len(groups) >= 2 and (not test_groups.any() or test_groups.all()):
        # every stratum rounded to none (or to all): the few prompts of the smaller side come one each from the
        # strata with the largest remainders
        few, side = (want, True) if not test_groups.any() else (len(groups) - want, False)
        rest = np.asarray(share) % 1.0 if side else 1.0 - np.asarray(share) % 1.0
        test_groups[:] = not side
        for i in np.argsort(-rest, kind="stable")[:few]:
            test_groups[shuffled[i][0]] = side
    is_test = test_groups[inverse]
    if is_test.all() or not is_test.any():
        raise DataError(f"cannot split {len(groups)} distinct prompts with test_size={test_size}")
    return data.subset(~is_test), data.subset(is_test)


def drop_shared_prompts(train: RoutingData, test: RoutingData) -> RoutingData:
    """The test prompts whose text does not also occur in train (keeps a given split honest)."""
    seen = set(train.prompts)
    return test.subset(np.array([p not in seen for p in test.prompts], dtype=bool))


def train_test_split(
    frame: pd.DataFrame, test_size: float = 0.3, *, seed: int = 0
) -> tuple[RoutingData, RoutingData]:
    """The data's own train/test split when it has one (a `split` column holding train and test, as RouterBench
    files do), else a prompt-grouped split of `test_size`; test prompts also in train are dropped."""
    data = routing_data(frame)
    if "split" in frame.columns and {"train", "test"} <= set(frame["split"].dropna()):
        key = frame.drop_duplicates("item_id").set_index("item_id")["split"]
        split = np.asarray(key.reindex(data.item_ids).astype(object))
        train = data.subset(split == "train")
        return train, drop_shared_prompts(train, data.subset(split == "test"))
    return split_by_prompt(data, test_size, seed=seed)
