"""Prompt features for training: TF-IDF over word n-grams and hashed char n-grams (scikit-learn style).

Any scikit-learn transformer with fit/transform can replace `TfidfFeatures` in `RouterEstimator(features=...)`;
only `TfidfFeatures` can be exported to a numpy-only policy (`to_arrays`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.utils.validation import check_is_fitted

from llmbench.router.text import TfidfArrays, _count, char_ngram_ids, clip_text, word_ngrams

__all__ = ["TfidfFeatures"]

_CHUNK = 2048  # prompts hashed at a time


class TfidfFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no type stubs
    """Word (1-2)-grams with a vocabulary plus hashed char (3-5)-grams, each block sublinear TF-IDF + L2."""

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (3, 5),
        min_df: int = 2,
        max_word_features: int | None = 20000,
        max_char_features: int | None = 20000,
        char_bits: int = 18,
        word_weight: float = 1.0,
        char_weight: float = 1.0,
        head_chars: int = 96,
        tail_chars: int = 416,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.char_bits = char_bits
        self.word_weight = word_weight
        self.char_weight = char_weight
        self.head_chars = head_chars
        self.tail_chars = tail_chars

    def _clip(self, texts: Sequence[str]) -> list[str]:
        return [clip_text(str(t), self.head_chars, self.tail_chars) for t in texts]

    def _char_chunks(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(texts in the chunk, row within the chunk, hashed char n-gram id), _CHUNK texts at a time: the ids of
        every prompt at once would take about 24 KB a prompt."""
        for start in range(0, len(texts), _CHUNK):
            ids = [
                char_ngram_ids(t, _pair(self.char_ngram_range), self.char_bits)
                for t in texts[start : start + _CHUNK]
            ]
            rows = np.repeat(np.arange(len(ids), dtype=np.int32), [len(i) for i in ids])
            yield len(ids), rows, np.concatenate(ids)

    def fit(self, texts: Sequence[str], y: object = None) -> TfidfFeatures:
        """Learn the word vocabulary, the kept char buckets and both idf vectors."""
        texts = self._clip(texts)
        self.word_vectorizer_ = CountVectorizer(
            ngram_range=_pair(self.word_ngram_range),
            min_df=min(self.min_df, max(1, len(texts))),
            max_features=self.max_word_features,
            dtype=np.float64,
        )
        word_counts = self.word_vectorizer_.fit_transform(texts)
        self.word_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(word_counts)
        # Char buckets: keep those seen in >= min_df prompts, most frequent first, ties by id (deterministic).
        df_all = np.zeros(1 << self.char_bits, dtype=np.int64)
        for _, r, c in self._char_chunks(texts):
            pairs, _ = _count(c * _CHUNK + r)  # one (bucket, doc) pair per document
            df_all += np.bincount(pairs // _CHUNK, minlength=len(df_all))
        buckets = np.flatnonzero(df_all >= min(self.min_df, max(1, len(texts))))
        df = df_all[buckets]
        if self.max_char_features is not None and len(buckets) > self.max_char_features:
            order = np.lexsort((buckets, -df))[: self.max_char_features]
            buckets = buckets[order]
        self.char_buckets_ = np.sort(buckets).astype(np.uint64)
        self.char_tfidf_ = TfidfTransformer(sublinear_tf=True).fit(self._char_matrix(texts))
        return self

    def _char_matrix(self, texts: Sequence[str]) -> sp.csr_matrix:
        col_of = np.full(1 << self.char_bits, -1, dtype=np.int64)
        col_of[self.char_buckets_.astype(np.int64)] = np.arange(len(self.char_buckets_))
        width = max(1, len(self.char_buckets_))
        blocks = []
        for n, r, c in self._char_chunks(texts):
            cols = col_of[c]
            hit = cols >= 0
            m = sp.csr_matrix((np.ones(int(hit.sum())), (r[hit], cols[hit])), shape=(n, width))
            m.sum_duplicates()  # repeated (row, col) entries become counts
            blocks.append(m)
        return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, width))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """TF-IDF rows (word block, then char block) for `texts`."""
        check_is_fitted(self, "word_vectorizer_")
        texts = self._clip(texts)
        word = self.word_tfidf_.transform(self.word_vectorizer_.transform(texts)) * self.word_weight
        char = self.char_tfidf_.transform(self._char_matrix(texts)) * self.char_weight
        if not len(self.char_buckets_):
            char = char[:, :0]
        return sp.hstack([word, char], format="csr")

    def to_arrays(self) -> TfidfArrays:
        """The fitted state as numpy arrays for the serving-side transform."""
        check_is_fitted(self, "word_vectorizer_")
        vocab = {str(k): int(v) for k, v in self.word_vectorizer_.vocabulary_.items()}
        # The numpy tokenizer must give the same n-grams as the vectorizer's analyzer.
        probe = "Probe: the Quick-brown fox's 2nd jump, 42 times!"
        if word_ngrams(probe, _pair(self.word_ngram_range)) != self.word_vectorizer_.build_analyzer()(probe):
            raise RuntimeError("numpy word tokenizer differs from scikit-learn's analyzer")
        return TfidfArrays(
            vocabulary=vocab,
            word_idf=np.asarray(self.word_tfidf_.idf_, dtype=np.float64),
            word_ngram_range=_pair(self.word_ngram_range),
            char_buckets=self.char_buckets_,
            char_idf=np.asarray(self.char_tfidf_.idf_, dtype=np.float64)[: len(self.char_buckets_)],
            char_ngram_range=_pair(self.char_ngram_range),
            char_bits=int(self.char_bits),
            word_weight=float(self.word_weight),
            char_weight=float(self.char_weight),
            head_chars=int(self.head_chars),
            tail_chars=int(self.tail_chars),
        )


def _pair(value: Sequence[int]) -> tuple[int, int]:
    """An n-gram range as the (low, high) pair the tokenizers take."""
    low, high = value
    return int(low), int(high)
