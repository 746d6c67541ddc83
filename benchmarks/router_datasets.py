"""The router on every data set at hand, every baseline in the same run, with 90% paired bootstrap intervals.
Printed, not asserted (numbers for the router issue's goals).

Per data set: AIQ of the router and of the best non-oracle baseline (task prior, kNN, zero router, best single
model) with the paired interval of their difference (the small-data tables also as bets: `AIQ (bet)`, every
baseline chosen on the training split, the zero router as the model prior); the share of the zero-router -> oracle AIQ gap the router
closes; cost saving at 98% and 100% of the best single model's quality; each with its interval; the candidate
the router chose (or its blend) from cross-fitting inside the training split. Then one cross-data-set case: trained
on RouterBench's two RouteLLM models, routing RouteLLM's MMLU prompts.

Costs: RouterBench and RouteLLM use their logged or list-priced costs. The 7-model open-LLM score matrix has no
costs: its models are all 7-8B, priced alike by `prices/open_llm.yaml` ($0.20 per million tokens, a hosted 8B
list price), so its table is about quality (AIQ is n/a when every model costs the same). AlpacaEval 1.0 has
preferences, not prices: quality is the GPT-4 preference over the baseline (1 win, 0.5 tie, 0 loss) and cost is
the answer's length at $1 per million output tokens (4 characters a token) for every model, i.e. the trade-off is
quality against verbosity.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from llmbench import imports
from llmbench.router import metrics, routing_data
from llmbench.router.data import RoutingData, split_by_prompt, train_test_split
from llmbench.router.evaluate import ORACLE, Evaluation, Reference, evaluate_router
from llmbench.testing import shared_data_dir

BASELINES = ("task prior", "kNN (k=25)", "zero router")
# the baselines as bets (chosen on the training split only): the zero router as a bet is the model prior
BETS = ("task prior", "kNN (k=25)", "model prior")


def load(shared: Path) -> dict[str, pd.DataFrame]:
    """Each data set as a runs frame."""
    sets: dict[str, pd.DataFrame] = {}
    rb = shared / "routerdc" / "datasets" / "routerbench_zs"
    sets["RouterBench (11 models)"] = imports.read_routerbench(rb)
    sets["open-LLM matrix (7 models)"] = open_llm_runs(shared / "routerdc" / "datasets" / "split2_model7")
    rl = shared / "routellm"
    sets["RouteLLM MMLU"] = imports.read_routellm(rl, benchmarks=("mmlu",))
    sets["RouteLLM GSM8K"] = imports.read_routellm(rl, benchmarks=("gsm8k",))
    sets["AlpacaEval 1.0 (preferences)"] = alpacaeval_runs(shared / "alpacaeval")
    return sets


def open_llm_runs(folder: Path) -> pd.DataFrame:
    """The score matrix (one JSON list per task of {question, scores: {model: score}}), each row its own item
    (some questions repeat), priced by prices/open_llm.yaml with 200 output tokens an answer."""
    import gzip
    import json

    import yaml

    prices = yaml.safe_load(Path(__file__).with_name("prices").joinpath("open_llm.yaml").read_text())[
        "models"
    ]
    rows = []
    for name in ("gsm8k-test", "mmlu_test", "arc_challenge_test", "humaneval_test", "mbpp"):
        path = folder / f"{name}.json.gz"
        if not path.exists():
            continue
        with gzip.open(path) as fh:
            records = json.loads(fh.read())
        for i, rec in enumerate(records):
            tokens_in = len(rec["question"]) / 4
            for model, score in rec["scores"].items():
                rate = prices[model]
                cost = (tokens_in * rate["input"] + 200 * rate["output"]) / 1e6
                rows.append({"experiment": "open-llm", "item_id": f"{name}:{i}", "prompt": rec["question"],
                             "task": name, "model": model, "epoch": 0, "score": float(score), "cost_usd": cost})  # fmt: skip
    return pd.DataFrame(rows)


def alpacaeval_runs(folder: Path) -> pd.DataFrame:
    """Per (instruction, model): quality = preference over the baseline, cost = answer length at $1/Mtok."""
    from llmbench.imports.alpacaeval import read_alpacaeval_pairs

    pairs = read_alpacaeval_pairs(folder)
    pairs = pairs.dropna(subset=["outcome", "len_a"])
    keep = pairs.groupby("model_a")["item_id"].transform("nunique") >= 0.95 * pairs["item_id"].nunique()
    pairs = pairs[keep]
    instructions = pd.read_json(folder / "instructions.jsonl.gz", lines=True)
    text = dict(zip(instructions["idx"].astype(str), instructions["instruction"], strict=True))
    source = dict(zip(instructions["idx"].astype(str), instructions["dataset"], strict=True))
    ids = pairs["item_id"].astype(str)
    return pd.DataFrame({"experiment": "alpacaeval", "item_id": ids, "prompt": ids.map(text),
                         "task": ids.map(source), "model": pairs["model_a"].astype(str), "epoch": 0,
                         "score": pairs["outcome"].astype(float),
                         "cost_usd": pairs["len_a"].astype(float) / 4 * 1e-6})  # fmt: skip


def intervals(
    ev: Evaluation, best: str, n_boot: int, seed: int = 0, bet: bool = False
) -> dict[str, tuple[float, float]]:
    """90% intervals of router minus `best` AIQ, the gap share closed, and cost saving at 98% and 100%; with
    `bet`, the AIQ difference is of the bet figures (`metrics.bet_aiq`)."""
    rng = np.random.default_rng(seed)
    test, n = ev.test, len(ev.test)
    out: dict[str, list[float]] = {"diff": [], "gap": [], "save98": [], "save100": []}
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        q, c = test.quality[idx], test.cost[idx]
        ref = Reference.of(q, c)
        weights = np.bincount(idx, minlength=n)
        rc, rq = _frontier(ev, "router", weights)
        aiq_r = _figure(ref, rc, rq, bet)
        zero_aiq = _figure(ref, c.mean(axis=0), q.mean(axis=0))
        aiq_b = zero_aiq if best == "zero router" else _figure(ref, *_frontier(ev, best, weights), bet)
        oc, oq = _frontier(ev, ORACLE, weights)
        zero, top = ref.aiq(c.mean(axis=0), q.mean(axis=0)), ref.aiq(oc, oq)
        out["diff"].append(aiq_r - aiq_b)
        out["gap"].append((aiq_r - zero) / (top - zero) if top > zero else np.nan)
        out["save98"].append(_saving(rc, rq, 0.98 * ref.q_best, ref.c_best))
        out["save100"].append(_saving(rc, rq, ref.q_best, ref.c_best))
    return {k: (float(np.nanquantile(v, 0.05)), float(np.nanquantile(v, 0.95))) if np.isfinite(v).any()
            else (np.nan, np.nan) for k, v in out.items()}  # fmt: skip


def _figure(ref: Reference, costs: np.ndarray, quals: np.ndarray, bet: bool = False) -> float:
    """AIQ (the bet figure with `bet`), or where every model costs the same (no cost range to average over)
    the quality reached: the peak with hindsight, the last point (lambda 0, as run) as a bet."""
    aiq = ref.bet_aiq(costs, quals) if bet else ref.aiq(costs, quals)
    return aiq if np.isfinite(aiq) else float(quals[-1] if bet else np.max(quals))


def _frontier(ev: Evaluation, name: str, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = ev.sweeps[name].points(ev.test.quality, ev.test.cost, weights)
    return pts["cost"], pts["quality"]


def _saving(costs: np.ndarray, quals: np.ndarray, q: float, c_best: float) -> float:
    if c_best <= 0:
        return np.nan
    at = metrics.cost_at_quality(costs, quals, q)
    return np.nan if not np.isfinite(at) else 1 - at / c_best


def report(name: str, train: RoutingData, test: RoutingData, n_boot: int) -> dict[str, object]:
    t0 = time.perf_counter()
    ev = evaluate_router(train, test)
    took = time.perf_counter() - t0
    table = ev.table.set_index("router")
    aiq = table["AIQ"]
    metric = "AIQ"
    if not np.isfinite(
        aiq.get("router", np.nan)
    ):  # every model costs the same: routing is about quality alone
        aiq, metric = table["peak quality"], "peak quality"
    candidates = [
        b for b in (*BASELINES, *[m for m in test.models]) if b in aiq.index and np.isfinite(aiq[b])
    ]
    best = max(candidates, key=lambda b: aiq[b]) if candidates else "task prior"
    best_pick = best if best in ev.sweeps or best == "zero router" else "zero router"
    ci = intervals(ev, best_pick, n_boot) if metric == "AIQ" else {}
    zero, top, r = aiq.get("zero router", np.nan), aiq.get(ORACLE, np.nan), aiq.get("router", np.nan)
    ref = Reference.of(ev.test.quality, ev.test.cost)
    rc, rq = ev.curves["router"]["cost"].to_numpy(), ev.curves["router"]["quality"].to_numpy()
    router = ev.router
    same = "n/a (custom features)"
    try:
        from llmbench.router import RouterPolicy

        served = RouterPolicy(router.to_policy())
        ours = router.predict(list(ev.test.prompts))
        theirs = [d.model for d in served.route_many(list(ev.test.prompts))]
        same = f"{sum(a == b for a, b in zip(ours, theirs, strict=True))}/{len(theirs)}"
    except Exception as exc:  # a policy that cannot be exported is reported, not hidden
        same = f"export failed: {exc}"
    fmt = lambda v: "n/a" if v is None or not np.isfinite(v) else f"{v:.4f}"  # noqa: E731
    iv = lambda k: "" if not ci or not np.isfinite(ci[k][0]) else f" [{ci[k][0]:+.4f}, {ci[k][1]:+.4f}]"  # noqa: E731
    print(f"\n## {name}: {ev.n_train} train / {ev.n_test} test prompts, {len(test.models)} models "
          f"(router + baselines fitted in {took:.1f} s)")  # fmt: skip
    print(f"  exported policy decides as the trained router on {same} test prompts")
    print(
        f"  router chose: {router.choice_}; out-of-fold routing scores: "
        + ", ".join(f"{k} {v:.4f}" for k, v in router.candidate_scores_.items())
    )
    shown = ["router", *BASELINES, ORACLE, ev.best_model]
    print(table.loc[[s for s in dict.fromkeys(shown) if s in table.index], ["AIQ", "peak quality", "cost saving"]]
          .round(4).to_string())  # fmt: skip
    print(f"  best non-oracle baseline: {best} ({metric} {fmt(aiq.get(best))}); router - best: "
          f"{fmt(r - aiq.get(best, np.nan))}{iv('diff')}")  # fmt: skip
    gap = (r - zero) / (top - zero) if top > zero else np.nan
    print(f"  zero router -> oracle gap closed: {fmt(gap)}{iv('gap')}")
    print(f"  cost saving at 98% of the best model's quality: {fmt(_saving(rc, rq, 0.98 * ref.q_best, ref.c_best))}"
          f"{iv('save98')}; at 100%: {fmt(_saving(rc, rq, ref.q_best, ref.c_best))}{iv('save100')}")  # fmt: skip
    return {"data": name, "router": r, "best": best, "best AIQ": aiq.get(best), "diff": r - aiq.get(best, np.nan),
            "diff low": ci.get("diff", (np.nan,))[0], "gap": gap}  # fmt: skip


def small(data: RoutingData, size: int, seed: int) -> RoutingData:
    """`size` training prompts drawn at random (seeded)."""
    rng = np.random.default_rng(seed)
    return data.subset(np.sort(rng.choice(len(data), size=min(size, len(data)), replace=False)))


def quiet(train: RoutingData, test: RoutingData, n_boot: int) -> dict[str, object]:
    """Router minus the best baseline on one split, as bets (every baseline chosen on the training split) and
    with hindsight (RouterBench's figures: hulls over the test outcomes, the best single model of the test
    split): the difference and its 90% interval's low end."""
    ev = evaluate_router(train, test)
    out: dict[str, object] = {"choice": ev.router.choice_}
    for bet, suffix in ((True, ""), (False, " hindsight")):
        figures = {name: _figure(ev.reference, *_frontier(ev, name, np.ones(len(ev.test))), bet)
                   for name in ev.sweeps}  # fmt: skip
        if not bet:
            table = ev.table.set_index("router")
            zero = table["AIQ"] if np.isfinite(table["AIQ"]).any() else table["peak quality"]
            figures.update({m: float(zero[m]) for m in (*test.models, "zero router")})
        named = [b for b in ((*BETS,) if bet else (*BASELINES, *test.models)) if np.isfinite(figures.get(b, np.nan))]
        if not named or not np.isfinite(figures["router"]):
            out.update({"diff" + suffix: np.nan, "low" + suffix: np.nan})
            continue
        best = max(named, key=lambda b: figures[b])
        ci = intervals(ev, best if best in ev.sweeps else "zero router", n_boot, bet=bet)
        out.update({"diff" + suffix: figures["router"] - figures[best], "low" + suffix: ci["diff"][0],
                    "best" + suffix: best})  # fmt: skip
        if bet:
            # like for like: the task prior reads the test prompts' true task labels, so it faces the router
            # given them too; every other baseline sees only the prompt, as the router does
            blind = [b for b in named if b != "task prior"]
            out["fair"] = min(
                figures["router + task label"] - figures["task prior"] if "task prior" in named else np.inf,
                figures["router"] - max(figures[b] for b in blind) if blind else np.inf,
            )
    return out


def small_data(
    frames: dict[str, pd.DataFrame], sizes: list[int], seeds: int, folds: int, n_boot: int
) -> None:
    """Each set with its training split cut to `sizes` prompts (`seeds` draws each), judged on the tool's split
    (a test split of at most 3,000 prompts) and by `folds`-fold cross-fitting (each fold the test once)."""
    rows = []
    for name, frame in frames.items():
        data = routing_data(frame)
        train, test = train_test_split(frame, 0.5, seed=0)
        test = small(test, 3000, 0)
        groups = np.unique(np.asarray(data.prompts, dtype=object).astype(str), return_inverse=True)[1]
        fold_of = np.random.default_rng(0).permutation(groups.max() + 1)[groups] % folds
        for size in sizes:
            for seed in range(seeds):
                r = quiet(small(train, size, seed), test, n_boot)
                rows.append({"data": name, "size": size, "seed": seed, "judged by": "split", **r})
                for k in range(folds):
                    rest, held = data.subset(fold_of != k), small(data.subset(fold_of == k), 3000, 0)
                    r = quiet(small(rest, size, seed), held, n_boot)
                    rows.append({"data": name, "size": size, "seed": seed, "judged by": f"fold {k}", **r})
                print(
                    pd.DataFrame(rows[-1 - folds :]).round(4).to_string(index=False, header=False), flush=True
                )
    table = pd.DataFrame(rows)
    by = table.groupby(["data", "size", "judged by"] if folds == 0 else ["data", "size"])
    summary = by.agg(diff=("diff", "mean"), worst=("diff", "min"), low=("low", "mean"), fair=("fair", "mean"),
                     fair_worst=("fair", "min"), hindsight=("diff hindsight", "mean"),
                     hindsight_worst=("diff hindsight", "min"), runs=("diff", "size"))  # fmt: skip
    print(
        "\n## Small data: router AIQ minus the best baseline's (mean and worst over seeds and folds), as bets "
        "(AIQ (bet); the baselines chosen on the training split), and with hindsight (RouterBench's AIQ: hulls "
        "over the test outcomes; the best of the test split's single models and zero router)"
    )
    print(summary.round(4).to_string())
    print(
        f"router within 0.002 of the best baseline (mean) on {(summary['diff'] >= -0.002).sum()}/{len(summary)}; "
        f"every single run on {(summary['worst'] >= -0.002).sum()}/{len(summary)}"
    )
    print(
        f"like for like (router + task label vs the labelled task prior, router vs the label-free baselines): "
        f"within 0.002 (mean) on {(summary['fair'] >= -0.002).sum()}/{len(summary)}; every single run on "
        f"{(summary['fair_worst'] >= -0.002).sum()}/{len(summary)}"
    )
    print(
        f"with hindsight (RouterBench's AIQ): within 0.002 (mean) on {(summary['hindsight'] >= -0.002).sum()}/"
        f"{len(summary)}; every single run on {(summary['hindsight_worst'] >= -0.002).sum()}/{len(summary)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument(
        "--sizes", default="40,100,300", help="training sizes of the small-data versions ('' for none)"
    )
    ap.add_argument("--seeds", type=int, default=3, help="draws of each small training set")
    ap.add_argument("--folds", type=int, default=5, help="cross-fitting folds of the small-data versions")
    ap.add_argument("--only", default="", help="only the data sets whose name contains this")
    ap.add_argument("--small-only", action="store_true", help="skip the full-size tables")
    args = ap.parse_args()
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("needs ../shared/data (set LLMBENCH_SHARED_DATA)")
    frames = {k: v for k, v in load(shared).items() if args.only in k}
    if args.sizes:
        small_data(frames, [int(x) for x in args.sizes.split(",")], args.seeds, args.folds, args.bootstrap)
    if args.small_only:
        return
    rows = []
    for name, frame in frames.items():
        train, test = train_test_split(frame, 0.5, seed=0)
        rows.append(report(name, train, test, args.bootstrap))
    # cross-data-set: trained on RouterBench's GPT-4 / Mixtral rows, routing RouteLLM's MMLU prompts
    rb = load_pair(shared)
    if rb is not None:
        train, test = rb
        rows.append(
            report("cross: RouterBench -> RouteLLM MMLU (GPT-4 vs Mixtral)", train, test, args.bootstrap)
        )
    summary = pd.DataFrame(rows)
    print(
        "\n## Goals: router AIQ >= best non-oracle baseline - 0.002 everywhere; the paired interval above 0 on two"
    )
    print(summary.round(4).to_string(index=False))
    met = (summary["diff"] >= -0.002).sum()
    above = (summary["diff low"] > 0).sum()
    print(
        f"router within 0.002 of the best baseline or above on {met}/{len(summary)} data sets; "
        f"interval above 0 on {above}"
    )


def load_pair(shared: Path) -> tuple[RoutingData, RoutingData] | None:
    """RouterBench rows of GPT-4 and Mixtral renamed as RouteLLM names them, and RouteLLM's MMLU as the test."""
    rb = imports.read_routerbench(shared / "routerdc" / "datasets" / "routerbench_zs")
    rl = imports.read_routellm(shared / "routellm", benchmarks=("mmlu",))
    names = sorted(rl["model"].unique())
    gpt = next((m for m in names if "gpt-4" in m), None)
    mix = next((m for m in names if "mixtral" in m.lower()), None)
    rb_gpt = next((m for m in rb["model"].unique() if "gpt-4" in m), None)
    rb_mix = next((m for m in rb["model"].unique() if "mixtral" in m.lower()), None)
    if None in (gpt, mix, rb_gpt, rb_mix):
        return None
    rb = rb[rb["model"].isin([rb_gpt, rb_mix])].replace({"model": {rb_gpt: gpt, rb_mix: mix}})
    train = routing_data(rb, [gpt, mix])
    test = routing_data(rl, [gpt, mix])
    _, test = split_by_prompt(test, 0.5, seed=0)
    return train, test


if __name__ == "__main__":
    pd.set_option("display.width", 160)
    main()
