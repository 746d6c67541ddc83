"""Numpy-only text features shared by training and serving: word n-grams and hashed char n-grams.

The serving path (`TfidfArrays.transform_one`) must not need scikit-learn, so the word tokenizer mirrors
scikit-learn's `CountVectorizer` defaults and the char n-grams are hashed with a vectorised FNV-style hash
that both sides call.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["TfidfArrays", "char_ngram_ids", "clip_text", "prompt_text", "word_ngrams"]

TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_WHITESPACE = re.compile(r"\s\s+")
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)


def prompt_text(prompt: object) -> str:
    """The routed text: a string as is; for chat messages, the text of the last user message."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        users = [m for m in prompt if _get(m, "role") == "user"] or list(prompt)
        if not users:
            return ""
        return _content_text(_get(users[-1], "content"))
    return _content_text(prompt)


def _get(obj: object, name: str) -> object:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _content_text(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = [_get(b, "text") for b in content]
        return "\n".join(p for p in parts if isinstance(p, str))
    text = _get(content, "text")
    return text if isinstance(text, str) else str(content)


def clip_text(text: str, head: int, tail: int) -> str:
    """The first `head` and last `tail` characters (the whole text when shorter).

    Long prompts are mostly shared few-shot preambles; the question sits at the end. Clipping bounds the
    per-prompt cost of the features.
    """
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + (text[-tail:] if tail else "")


def word_ngrams(text: str, ngram_range: tuple[int, int] = (1, 2)) -> list[str]:
    """Lower-cased word n-grams exactly as scikit-learn's CountVectorizer(analyzer='word') makes them."""
    tokens = TOKEN_PATTERN.findall(text.lower())
    lo, hi = ngram_range
    if hi == 1:
        return tokens
    grams = list(tokens) if lo == 1 else []
    if lo <= 2 <= hi:
        grams += [a + " " + b for a, b in itertools.pairwise(tokens)]
    for n in range(max(lo, 3), hi + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def char_ngram_ids(text: str, ngram_range: tuple[int, int] = (3, 5), bits: int = 18) -> np.ndarray:
    """Hashed ids (0 .. 2**bits - 1) of the lower-cased, whitespace-collapsed char n-grams of `text`."""
    norm = _WHITESPACE.sub(" ", text.lower())
    codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    shift = np.uint64(64 - bits)
    lo, hi = ngram_range
    out = []
    # FNV-1a over each window, extended one char at a time: the hash of an n-gram continues the hash of
    # its (n-1)-gram prefix, so all lengths together cost one xor and one multiply per length.
    h = np.full(len(codes), _FNV_OFFSET, dtype=np.uint64)
    for n in range(1, hi + 1):
        m = len(codes) - n + 1
        if m <= 0:
            break
        h = h[:m]
        h ^= codes[n - 1 : n - 1 + m]
        h *= _FNV_PRIME  # wraps modulo 2**64, as FNV intends
        if n >= lo:
            out.append(h >> shift)  # the high bits mix best
    return np.concatenate(out).view(np.int64) if out else np.zeros(0, dtype=np.int64)


@dataclass
class TfidfArrays:
    """The fitted state of the TF-IDF features as plain arrays, and the numpy transform of one prompt.

    Blocks: word n-grams (dict vocabulary) then hashed char n-grams (sorted bucket ids); each block gets
    sublinear tf x smoothed idf, is L2-normalised and scaled by its weight (as TfidfTransformer does).
    """

    vocabulary: dict[str, int]
    word_idf: np.ndarray
    word_ngram_range: tuple[int, int]
    char_buckets: np.ndarray  # sorted uint64 bucket ids kept as columns
    char_idf: np.ndarray
    char_ngram_range: tuple[int, int]
    char_bits: int
    word_weight: float = 1.0
    char_weight: float = 1.0
    head_chars: int = 96
    tail_chars: int = 416

    def __post_init__(self) -> None:
        # bucket id -> column, -1 when the bucket was not kept: one gather per prompt instead of a search.
        self._char_map = np.full(1 << self.char_bits, -1, dtype=np.int32)  # small enough to stay in cache
        self._char_map[self.char_buckets.astype(np.int64)] = np.arange(len(self.char_buckets)) + len(
            self.word_idf
        )
        self._idf = np.concatenate([self.word_idf, self.char_idf])

    @property
    def n_features(self) -> int:
        return len(self.word_idf) + len(self.char_idf)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF row of one prompt as (column indices ascending, values).

        Both blocks are counted in one pass (word columns come first), then each block is L2-normalised.
        """
        text = clip_text(text, self.head_chars, self.tail_chars)
        n_word = len(self.word_idf)
        parts = []
        if n_word:
            grams = word_ngrams(text, self.word_ngram_range)
            # unknown n-grams map to -1 inside map(): no Python-level loop per n-gram
            ids = np.fromiter(
                map(self.vocabulary.get, grams, itertools.repeat(-1)), np.int64, count=len(grams)
            )
            parts.append(ids[ids >= 0])
        if len(self.char_idf):
            cols = self._char_map[char_ngram_ids(text, self.char_ngram_range, self.char_bits)]
            parts.append(cols[cols >= 0])
        cols = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if not len(cols):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx, counts = _count(cols)
        vals = (np.log(counts) + 1.0) * self._idf[idx]
        k = int(np.searchsorted(idx, n_word))
        w, c = vals[:k], vals[k:]
        nw, nc = float(w @ w), float(c @ c)
        if nw:
            w *= self.word_weight / np.sqrt(nw)
        if nc:
            c *= self.char_weight / np.sqrt(nc)
        return idx, vals


def _count(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct columns (ascending) and their counts; a sort beats np.unique's overhead for short rows."""
    cols = np.sort(cols)
    new = np.empty(len(cols), dtype=bool)
    new[0] = True
    np.not_equal(cols[1:], cols[:-1], out=new[1:])
    start = np.flatnonzero(new)
    ends = np.empty_like(start)
    ends[:-1] = start[1:]
    ends[-1] = len(cols)
    return cols[start], ends - start
