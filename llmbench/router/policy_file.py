"""The policy file's body as one pydantic model: what `TaskRouter.export` writes and `Router.load` accepts.

Every field is checked against a bound before anything is allocated from it, because a policy file is input
like any other: its sha256 is not a signature (anyone can recompute it), so a file with enlarged n-gram ranges,
a 26-bit hash table or NaN weights must be refused with the field named, not served with NaN utilities or a
multi-gigabyte allocation.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmbench.errors import DataError

__all__ = [
    "LIMITS",
    "ArrayData",
    "Classifier",
    "Features",
    "PolicyBody",
    "Residual",
    "decode_array",
    "encode_array",
]

# Bounds of a servable policy (a default export is far inside each).
LIMITS = {
    "models": 1000,
    "tasks": 10_000,
    "vocabulary": 500_000,
    "token_chars": 1000,
    "array_elements": 100_000_000,
    "clip_chars": 100_000,
    "word_ngram_max": 4,
    "char_ngram_max": 8,
    "char_bits": (8, 22),
}
_DTYPES = {"<f8": np.float64, "<i8": np.int64}
Finite = Annotated[float, Field(allow_inf_nan=False)]


class ArrayData(BaseModel):
    """A numpy array as JSON: dtype, shape and base64 of the little-endian bytes."""

    model_config = ConfigDict(extra="forbid")
    dtype: Literal["<f8", "<i8"]
    shape: list[Annotated[int, Field(ge=0)]] = Field(max_length=4)
    b64: str

    @model_validator(mode="after")
    def _sizes(self) -> ArrayData:
        count = math.prod(self.shape) if self.shape else 1
        if count > LIMITS["array_elements"]:
            raise ValueError(
                f"an array of shape {self.shape} is larger than {LIMITS['array_elements']} elements"
            )
        if len(self.b64) != 4 * math.ceil(count * 8 / 3):
            raise ValueError(
                f"holds {len(self.b64)} base64 characters, its shape {self.shape} needs a different count"
            )
        return self

    def array(self, name: str) -> np.ndarray:
        """The decoded array (float arrays must be finite)."""
        try:
            raw = base64.b64decode(self.b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DataError(f"policy array {name!r} is not valid base64: {exc}") from None
        out = np.frombuffer(raw, dtype=_DTYPES[self.dtype]).reshape(self.shape)
        if out.dtype.kind == "f" and not np.isfinite(out).all():
            raise DataError(f"policy array {name!r} holds non-finite values")
        return out


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """A numpy array as a JSON-safe dict (float64 or int64, little-endian, base64)."""
    a = np.asarray(a)
    dtype = "<i8" if np.issubdtype(a.dtype, np.integer) else "<f8"
    data = np.ascontiguousarray(a, dtype=dtype)
    return {
        "dtype": dtype,
        "shape": list(data.shape),
        "b64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def decode_array(obj: Any, name: str) -> np.ndarray:
    """The array stored by `encode_array`, checked for dtype, shape, length and finiteness."""
    try:
        data = ArrayData.model_validate(obj)
    except ValidationError as exc:
        raise DataError(f"policy array {name!r} is malformed: {_first(exc)}") from None
    return data.array(name)


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"


class Features(BaseModel):
    """TF-IDF features: word n-gram vocabulary, hashed char n-gram buckets, both idf vectors, clipping."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["tfidf"]
    vocabulary: list[Annotated[str, Field(max_length=LIMITS["token_chars"])]] = Field(
        max_length=LIMITS["vocabulary"]
    )
    word_idf: ArrayData
    word_ngram_range: tuple[
        Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1, le=LIMITS["word_ngram_max"])]
    ]
    char_buckets: ArrayData
    char_idf: ArrayData
    char_ngram_range: tuple[
        Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1, le=LIMITS["char_ngram_max"])]
    ]
    char_bits: int = Field(ge=LIMITS["char_bits"][0], le=LIMITS["char_bits"][1])
    word_weight: Finite = Field(ge=0)
    char_weight: Finite = Field(ge=0)
    head_chars: int = Field(ge=0, le=LIMITS["clip_chars"])
    tail_chars: int = Field(ge=0, le=LIMITS["clip_chars"])

    @field_validator("word_ngram_range", "char_ngram_range")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] > v[1]:
            raise ValueError(f"the range {list(v)} must have low <= high")
        return v


class Classifier(BaseModel):
    """A linear task classifier: logits = x W^T + b, then its link (see `TaskRouter._linear_classifier`)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = ""
    link: Literal["softmax", "sigmoid", "ovr"] = "softmax"
    coef: ArrayData
    intercept: ArrayData


class Residual(BaseModel):
    """Per-model prompt-level residual estimators (ridge) and their stacking weights per task."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["ridge"]
    coef: ArrayData
    task_beta: ArrayData


class PolicyBody(BaseModel):
    """Everything a served router needs; `to_policy` writes it, `Router` reads it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    models: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=2, max_length=LIMITS["models"]
    )
    tasks: list[Annotated[str, Field(max_length=1000)]] = Field(min_length=1, max_length=LIMITS["tasks"])
    lambda_: Finite = Field(alias="lambda", ge=0)
    mode: Literal["cost", "threshold"]
    threshold: Finite
    strong: str
    weak: str
    fallbacks: str = ""
    prices: dict[str, Any] = {}
    task_quality: ArrayData
    task_cost: ArrayData
    features: Features
    classifier: Classifier | dict[str, Any]
    residual: Residual | None = None
    params: dict[str, Any] = {}
    trained_on: dict[str, Any] = {}
    llmbench_version: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> PolicyBody:
        if len(set(self.models)) != len(self.models):
            raise ValueError("models are listed twice")
        for role in ("strong", "weak"):
            if getattr(self, role) not in self.models:
                raise ValueError(f"{role} model {getattr(self, role)!r} is not one of the policy's models")
        if isinstance(self.classifier, dict) and self.classifier:
            raise ValueError("classifier must be empty (one task) or a linear classifier")
        return self

    @classmethod
    def parse(cls, policy: Any) -> PolicyBody:
        """Validate a decoded policy dict; a DataError names the first bad field."""
        try:
            return cls.model_validate(policy)
        except ValidationError as exc:
            raise DataError(f"policy field {_first(exc)}") from None
