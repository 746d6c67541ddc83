"""The exported routing policy: one JSON file, loaded without executing code and served with numpy only.

File layout (one JSON document, ASCII):
    {"format":"llmbench-router-policy","version":1,"sha256":"HEX","policy":{...}}
`sha256` is the SHA-256 of the bytes of the `policy` object exactly as written (canonical JSON: sorted
keys, no spaces), so a re-formatted, edited or truncated file is rejected. Arrays inside `policy`
are {"dtype": "<f8" | "<i8", "shape": [...], "b64": base64 of the little-endian bytes}. Nothing here
imports scikit-learn or pandas, so serving stays light; every problem with a file is a DataError.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from llmbench.errors import DataError
from llmbench.router.decision import Decision, decision_from, estimate_quality_cost, softmax, utilities
from llmbench.router.policy_file import Classifier, PolicyBody, decode_array, encode_array
from llmbench.router.text import TfidfArrays, prompt_text

__all__ = ["FORMAT", "VERSION", "Router", "decode_array", "encode_array", "read_policy", "write_policy"]

FORMAT = "llmbench-router-policy"
VERSION = 1
MAX_POLICY_BYTES = 512 * 1024 * 1024  # a larger file is refused before it is read


def _canonical(policy: dict) -> bytes:
    return json.dumps(
        policy, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


# The body is written last, in canonical form, so the reader hashes the very bytes it parses (one pass).
_HEAD = re.compile(rb'\A\{"format":"([^"]*)","version":(\d+),"sha256":"([0-9a-f]{64})","policy":')


def write_policy(policy: dict, path: str | Path) -> str:
    """Write a policy dict to `path` with its content hash (atomically); returns the hash."""
    body = _canonical(policy)
    digest = hashlib.sha256(body).hexdigest()
    head = f'{{"format":"{FORMAT}","version":{VERSION},"sha256":"{digest}","policy":'.encode()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(head + body + b"}\n")
    os.replace(tmp, path)
    return digest


def read_policy(path: str | Path) -> tuple[dict, str]:
    """Read and verify a policy file -> (policy, sha256); DataError if unreadable, truncated, tampered or foreign."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_POLICY_BYTES:
            raise DataError(
                f"policy file {path} is {size} bytes, more than the {MAX_POLICY_BYTES} a policy may hold"
            )
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    head = _HEAD.match(raw)
    if head is None:
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"policy file {path} is not valid JSON (truncated or corrupted?): {exc}") from exc
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            raise DataError(f"policy file {path} was re-formatted after export; export it again")
        raise DataError(f"{path} is not an llmbench router policy (format must be {FORMAT!r})")
    if head.group(1).decode() != FORMAT:
        raise DataError(f"{path} is not an llmbench router policy (format must be {FORMAT!r})")
    if int(head.group(2)) != VERSION:
        raise DataError(
            f"policy {path} has version {int(head.group(2))}; this llmbench reads version {VERSION}"
        )
    body = raw[head.end() :].rstrip()
    if not body.endswith(b"}}"):
        raise DataError(f"policy file {path} is truncated (it does not end with the closing braces)")
    body = body[:-1]
    digest = hashlib.sha256(body).hexdigest()
    if digest != head.group(3).decode():
        raise DataError(
            f"policy file {path} fails its content hash check: it was modified or truncated after export"
        )
    try:
        policy = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"policy file {path} is not valid JSON: {exc}") from exc
    if not isinstance(policy, dict):
        raise DataError(f"policy file {path} has no policy object")
    return policy, digest


class Router:
    """A loaded routing policy: `Router.load(path).route(prompt_or_messages)` -> Decision (numpy only)."""

    def __init__(self, policy: dict | PolicyBody, sha256: str | None = None) -> None:
        body = policy if isinstance(policy, PolicyBody) else PolicyBody.parse(policy)
        self.sha256 = sha256
        self.body = body
        self.models: list[str] = list(body.models)
        self.tasks: list[str] = list(body.tasks)
        self._task_index = {t: i for i, t in enumerate(self.tasks)}
        self.lambda_ = body.lambda_
        self.mode = body.mode
        self.threshold = body.threshold
        self.strong, self.weak = self.models.index(body.strong), self.models.index(body.weak)
        self.trained_on = body.trained_on
        n_t, n_m = len(self.tasks), len(self.models)
        self.task_quality = _shaped(body.task_quality, "task_quality", (n_t, n_m))
        self.task_cost = _shaped(body.task_cost, "task_cost", (2, n_t, n_m))
        feats = body.features
        word_idf = feats.word_idf.array("word_idf")
        if word_idf.shape != (len(feats.vocabulary),):
            raise DataError("policy word_idf does not match the vocabulary length")
        buckets = feats.char_buckets.array("char_buckets")
        char_idf = feats.char_idf.array("char_idf")
        bits = feats.char_bits
        if (
            buckets.ndim != 1
            or buckets.shape != char_idf.shape
            or (len(buckets) and (buckets.min() < 0 or buckets.max() >= 1 << bits))
        ):
            raise DataError("policy char features are inconsistent (buckets, idf and bits disagree)")
        self.features = TfidfArrays(
            vocabulary={str(t): i for i, t in enumerate(feats.vocabulary)},
            word_idf=word_idf,
            word_ngram_range=feats.word_ngram_range,
            char_buckets=buckets,
            char_idf=char_idf,
            char_ngram_range=feats.char_ngram_range,
            char_bits=bits,
            word_weight=feats.word_weight,
            char_weight=feats.char_weight,
            head_chars=feats.head_chars,
            tail_chars=feats.tail_chars,
        )
        n_f = self.features.n_features
        clf = body.classifier
        if n_t > 1:
            if not isinstance(clf, Classifier):
                raise DataError(f"policy has {n_t} tasks but no task classifier")
            rows = clf.coef.shape[0] if clf.coef.shape else n_t
            n_out = 1 if (n_t == 2 and rows == 1) else n_t  # binary logistic regression keeps one row
            coef = _shaped(clf.coef, "coef", (n_out, n_f))
            intercept = _shaped(clf.intercept, "intercept", (n_out,))
            self._link = clf.link
        else:
            coef, intercept, self._link = np.zeros((0, n_f)), np.zeros(0), "none"
        self._n_logits = coef.shape[0]
        if (self._link == "sigmoid") != (self._n_logits == 1):
            raise DataError(f"policy classifier link {self._link!r} does not fit its {self._n_logits} rows")
        res = body.residual
        if res is None:
            res_coef, self.task_beta = np.zeros((0, n_f)), None
        else:
            res_coef = _shaped(res.coef, "coef", (n_m, n_f))
            self.task_beta = _shaped(res.task_beta, "task_beta", (2, n_t, n_m))
        # one gather serves the classifier and the residual estimators together
        self._weights = np.ascontiguousarray(np.vstack([coef, res_coef]).T)
        self._bias = np.r_[intercept, np.zeros(res_coef.shape[0])]

    @classmethod
    def load(cls, path: str | Path) -> Router:
        """Load and verify a policy file written by `llmbench router export`."""
        policy, digest = read_policy(path)
        return cls(policy, digest)

    def estimate_one(
        self, prompt: object, task: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task posterior, expected quality, expected cost) for one prompt; a known `task` label seen in
        training replaces the classifier's posterior."""
        text = prompt_text(prompt)
        idx, val = self.features.transform_one(text)
        z = val @ self._weights[idx] + self._bias
        k = self._n_logits
        if k == 0:
            post = np.ones(1)
        elif self._link == "sigmoid":
            p1 = 1.0 / (1.0 + np.exp(-z[0]))
            post = np.array([1.0 - p1, p1])
        elif self._link == "ovr":
            p = 1.0 / (1.0 + np.exp(-z[:k]))
            post = p / p.sum()
        else:
            post = softmax(z[:k])
        if task is not None and task in self._task_index:
            post = np.zeros(len(self.tasks))
            post[self._task_index[task]] = 1.0
        resid = z[k:] if self.task_beta is not None else None
        q, c = estimate_quality_cost(
            post[None, :],
            None if resid is None else resid[None, :],
            self.task_quality,
            self.task_cost,
            self.task_beta,
            np.array([len(text) / 1000]),
        )
        return post, q[0], c[0]

    def route(self, prompt: object, lambda_: float | None = None, task: str | None = None) -> Decision:
        """The decision for one prompt string or chat message list (optionally with its known task label)."""
        post, q, c = self.estimate_one(prompt, task)
        lam = self.lambda_ if lambda_ is None else lambda_
        u = utilities(q, c, lam, self.mode, self.strong, self.weak, self.threshold)
        return decision_from(post, q, c, u, self.models, self.tasks)

    def route_many(self, prompts: list[object], tasks: list[str | None] | None = None) -> list[Decision]:
        """Decisions for several prompts (optionally with their known task labels)."""
        tasks = [None] * len(prompts) if tasks is None else tasks
        return [self.route(p, task=t) for p, t in zip(prompts, tasks, strict=True)]


def _shaped(data: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A policy array of the given shape (finite: `ArrayData.array` checks that)."""
    a = data.array(name)
    if a.shape != shape:
        raise DataError(f"policy array {name!r} has shape {list(a.shape)}, expected {list(shape)}")
    return a
