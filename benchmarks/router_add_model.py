"""Adding a model to a trained router from a probe set, against retraining on every log. Printed, not asserted.

Per data set and held-out model: a router trained on the other models' training runs gets the held-out model from
its runs on 50, 100 and 200 probe prompts (drawn from the training split; several draws), via
`RouterEstimator.add_model`. On the test split (every model), the figure is AIQ (peak quality where every model is
priced alike); a router's gain is its figure minus the best single model's. The share recovered is the added
router's gain over the gain of a router retrained on every model's full logs; shown per model, and over the models
as the ratio of summed gains (models whose full gain is under 0.002 say nothing about recovery and are left out).
The router that never sees the held-out model is shown as the floor ("without").

    .venv/bin/python benchmarks/router_add_model.py [--only RouterBench] [--sizes 50,100,200] [--seeds 2]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import pandas as pd
from router_datasets import load

from llmbench.router import RouterEstimator, metrics
from llmbench.router.data import RoutingData, train_test_split
from llmbench.router.evaluate import Reference
from llmbench.testing import shared_data_dir

MIN_GAIN = 0.002  # a full router gaining less than this over the best single model leaves nothing to recover


def figure(router: RouterEstimator, test: RoutingData) -> float:
    """The router's AIQ on the test prompts (or peak quality where every model costs the same)."""
    data = test.columns(list(router.models_))
    _, q, c = router.estimate(list(data.prompts))
    pts = metrics.Sweep.of(q, c).points(data.quality, data.cost)
    aiq = Reference.of(data.quality, data.cost).aiq(pts["cost"], pts["quality"])
    return aiq if np.isfinite(aiq) else float(np.max(pts["quality"]))


def best_single(test: RoutingData) -> float:
    ref = Reference.of(test.quality, test.cost)
    mean_q, mean_c = test.quality.mean(axis=0), test.cost.mean(axis=0)
    singles = [ref.aiq(mean_c[[j]], mean_q[[j]]) for j in range(len(test.models))]
    return float(np.nanmax(singles)) if np.isfinite(singles).any() else float(mean_q.max())


def one_set(name: str, frame: pd.DataFrame, sizes: list[int], seeds: int) -> pd.DataFrame:
    train, test = train_test_split(frame, 0.5, seed=0)
    train, test = train.subset(np.isfinite(train.quality).all(axis=1)), test.complete()
    floor = best_single(test)
    t0 = time.perf_counter()
    full_gain = figure(RouterEstimator().fit(train), test) - floor
    print(f"\n## {name}: {len(train)} train / {len(test)} test prompts, {len(train.models)} models; "
          f"full router gain over the best single model {full_gain:+.4f} ({time.perf_counter() - t0:.0f} s a fit)")  # fmt: skip
    rows = []
    for model in train.models:
        others = [m for m in train.models if m != model]
        base = RouterEstimator().fit(train.columns(others))
        row = {"data": name, "model": model, "full": full_gain, "without": figure(base, test) - floor}
        for size in sizes:
            gains = []
            for seed in range(seeds):
                pick = np.random.default_rng(seed).choice(
                    len(train), size=min(size, len(train)), replace=False
                )
                grown = copy.deepcopy(base)  # add_model changes the router in place
                grown.add_model(train.subset(np.sort(pick)), model)
                gains.append(figure(grown, test) - floor)
            row[size] = float(np.mean(gains))
        rows.append(row)
        print(
            "  " + ", ".join(f"{k} {v:+.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="only the data sets whose name contains this")
    ap.add_argument("--sizes", default="50,100,200", help="probe prompts")
    ap.add_argument("--seeds", type=int, default=2, help="draws of each probe set")
    args = ap.parse_args()
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("needs ../shared/data (or LLMBENCH_SHARED_DATA)")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    wanted = ("RouterBench", "open-LLM")
    tables = [one_set(name, frame, sizes, args.seeds) for name, frame in load(shared).items()
              if any(w in name for w in wanted) and args.only in name]  # fmt: skip
    table = pd.concat(tables)
    print(f"\n## Share of a full retrain's gain recovered (models summed; full gain >= {MIN_GAIN})")
    print("   'of the gain': the grown router's gain over the best single model / the full router's;")
    print(
        "   'of the model's part': (grown - without) / (full - without), over the models whose absence costs"
    )
    print(f"   the router at least {MIN_GAIN} (where adding them matters at all)")
    for name, part in table.groupby("data", sort=False):
        if part["full"].iloc[0] < MIN_GAIN:
            print(f"  {name}: the full router gains nothing over the best single model to recover")
            continue
        matters = part[part["full"] - part["without"] >= MIN_GAIN]
        for size in [*sizes, "without"]:
            share = part[size].sum() / part["full"].sum()
            own = (matters[size] - matters["without"]).sum() / (matters["full"] - matters["without"]).sum()
            print(f"  {name}, {size} probes: {share:.1%} of the gain; {own:.1%} of the model's part "
                  f"({len(matters)} models matter)" if size != "without" else f"  {name}, without the model: "
                  f"{share:.1%} of the gain")  # fmt: skip
    print(table.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
