"""The policy file: one pydantic model (`PolicyFile`) that `RouterEstimator.export` writes and `RouterPolicy.load`
reads, and the verified JSON container around it.

File layout (one JSON document, ASCII):
    {"format":"llmbench-router-policy","version":1,"sha256":"HEX","policy":{...}}
`sha256` is the SHA-256 of the bytes of the `policy` object exactly as written (canonical JSON: sorted
keys, no spaces), so a re-formatted, edited or truncated file is rejected. Arrays inside `policy`
are {"dtype": "<f8" | "<i8", "shape": [...], "b64": base64 of the little-endian bytes}.

Every field is checked against a bound before anything is allocated from it, because a policy file is input
like any other: its sha256 is not a signature (anyone can recompute it), so a file with enlarged n-gram ranges,
a 26-bit hash table or NaN weights must be refused with the field named, not served with NaN utilities or a
multi-gigabyte allocation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from llmbench.errors import DataError

__all__ = [
    "FORMAT",
    "LIMITS",
    "VERSION",
    "ArrayData",
    "Candidates",
    "Classifier",
    "Features",
    "PolicyFile",
    "decode_array",
    "encode_array",
    "parse_section",
    "read_policy",
    "shaped",
    "write_policy",
]


@dataclass(frozen=True)
class Limits:
    """Bounds of a servable policy (a default export is far inside each)."""

    models: int = 1000
    tasks: int = 10_000
    vocabulary: int = 500_000
    token_chars: int = 1000
    array_elements: int = 100_000_000
    clip_chars: int = 100_000
    word_ngram_max: int = 4
    char_ngram_max: int = 8
    char_bits: tuple[int, int] = (8, 22)


LIMITS = Limits()
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
        if count > LIMITS.array_elements:
            raise ValueError(
                f"an array of shape {self.shape} is larger than {LIMITS.array_elements} elements"
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


def shaped(data: ArrayData, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A policy array of the given shape (finite: `ArrayData.array` checks that)."""
    a = data.array(name)
    if a.shape != shape:
        raise DataError(f"policy array {name!r} has shape {list(a.shape)}, expected {list(shape)}")
    return np.asarray(a)


M = TypeVar("M", bound=BaseModel)


def parse_section(model: type[M], section: Any, name: str) -> M:
    """A candidate's policy section validated by its model; a DataError names the candidate and the field."""
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        raise DataError(f"policy section {name!r}: {_first(exc)}") from None


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"


class Features(BaseModel):
    """TF-IDF features: word n-gram vocabulary, hashed char n-gram buckets, both idf vectors, clipping."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["tfidf"]
    vocabulary: list[Annotated[str, Field(max_length=LIMITS.token_chars)]] = Field(
        max_length=LIMITS.vocabulary
    )
    word_idf: ArrayData
    word_ngram_range: tuple[
        Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1, le=LIMITS.word_ngram_max)]
    ]
    char_buckets: ArrayData
    char_idf: ArrayData
    char_ngram_range: tuple[
        Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1, le=LIMITS.char_ngram_max)]
    ]
    char_bits: int = Field(ge=LIMITS.char_bits[0], le=LIMITS.char_bits[1])
    word_weight: Finite = Field(ge=0)
    char_weight: Finite = Field(ge=0)
    head_chars: int = Field(ge=0, le=LIMITS.clip_chars)
    tail_chars: int = Field(ge=0, le=LIMITS.clip_chars)

    @field_validator("word_ngram_range", "char_ngram_range")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] > v[1]:
            raise ValueError(f"the range {list(v)} must have low <= high")
        return v


class Classifier(BaseModel):
    """A linear task classifier: logits = x W^T + b, then its link (see `llmbench.router.export.linear_classifier`)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = ""
    link: Literal["softmax", "sigmoid", "ovr"] = "softmax"
    coef: ArrayData
    intercept: ArrayData


class Candidates(BaseModel):
    """The candidates a policy blends: weights per task by name, each one's section, and how they were chosen."""

    model_config = ConfigDict(extra="forbid")
    choice: str = ""
    scores: dict[str, Finite] = {}
    blend: dict[str, ArrayData] = {}  # candidate name -> (tasks,) weights
    # candidate name -> its fitted state (see llmbench.router.candidates)
    sections: dict[str, dict[str, Any]] = {}
    # what the router routes on as cost: {"kind": "table", "model": a name in llmbench.router.costs.TABLES} (the
    # task_cost table; {} in older policies: the task cost lines) or {"kind": "kNN", "index": a section with costs}
    cost: dict[str, Any] = {}


class AddedSection(BaseModel):
    """Models added from probe prompts: their names, weights over the trained models, offsets, cost lines."""

    model_config = ConfigDict(extra="forbid")
    models: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(min_length=1)
    weight: ArrayData
    offset: ArrayData
    cost_lines: ArrayData


class PolicyFile(BaseModel):
    """Everything a served router needs: written by `RouterEstimator.export`, read by `RouterPolicy.load`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    models: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=2, max_length=LIMITS.models
    )
    tasks: list[Annotated[str, Field(max_length=1000)]] = Field(min_length=1, max_length=LIMITS.tasks)
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
    candidates: Candidates = Candidates()
    # version 1 kept the ridge and kNN sections at the top and the blend as a (tasks, 3) array
    residual: dict[str, Any] | None = None
    blend: ArrayData | None = None
    knn: dict[str, Any] | None = None
    added: dict[str, Any] = {}  # models added from probe prompts (`llmbench.router.added`)
    latency: dict[str, Any] = {}  # latency as a cost term or cap (`llmbench.router.latency`)
    params: dict[str, Any] = {}
    trained_on: dict[str, Any] = {}
    llmbench_version: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> PolicyFile:
        if len(set(self.models)) != len(self.models):
            raise ValueError("models are listed twice")
        for role in ("strong", "weak"):
            if getattr(self, role) not in self.models:
                raise ValueError(f"{role} model {getattr(self, role)!r} is not one of the policy's models")
        if isinstance(self.classifier, dict) and self.classifier:
            raise ValueError("classifier must be empty (one task) or a linear classifier")
        return self

    @classmethod
    def parse(cls, policy: Any) -> PolicyFile:
        """Validate a decoded policy dict; a DataError names the first bad field."""
        try:
            return cls.model_validate(policy)
        except ValidationError as exc:
            raise DataError(f"policy field {_first(exc)}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe dict written to the file."""
        return self.model_dump(mode="json", by_alias=True)

    def with_lambda(self, lambda_: float) -> PolicyFile:
        """The same policy with another cost weight (validated like every field)."""
        return PolicyFile.parse({**self.to_dict(), "lambda": float(lambda_)})

    @classmethod
    def load(cls, path: str | Path) -> tuple[PolicyFile, str]:
        """Read, verify and validate a policy file -> (policy, sha256)."""
        raw, digest = read_policy(path)
        return cls.parse(raw), digest

    def save(self, path: str | Path) -> str:
        """Write the file (atomically); returns its content hash."""
        return write_policy(self.to_dict(), path)


FORMAT = "llmbench-router-policy"
VERSION = 2  # 2: candidates by name (`candidates.blend`, `candidates.sections`)
READS = (1, 2)
MAX_POLICY_BYTES = 512 * 1024 * 1024  # a larger file is refused before it is read


def _canonical(policy: dict[str, Any]) -> bytes:
    return json.dumps(
        policy, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode()


# The body is written last, in canonical form, so the reader hashes the very bytes it parses (one pass).
_HEAD = re.compile(rb'\A\{"format":"([^"]*)","version":(\d+),"sha256":"([0-9a-f]{64})","policy":')


def write_policy(policy: dict[str, Any], path: str | Path) -> str:
    """Write a policy dict to `path` with its content hash (atomically); returns the hash."""
    body = _canonical(policy)
    digest = hashlib.sha256(body).hexdigest()
    head = f'{{"format":"{FORMAT}","version":{VERSION},"sha256":"{digest}","policy":'.encode()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(head + body + b"}\n")
    os.replace(tmp, path)
    return digest


def read_policy(path: str | Path) -> tuple[dict[str, Any], str]:
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
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise DataError(
                f"policy file {path} is not valid JSON (truncated or corrupted?): {exc!r}"
            ) from None
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
            raise DataError(f"policy file {path} was re-formatted after export; export it again")
        raise DataError(f"{path} is not an llmbench router policy (format must be {FORMAT!r})")
    if head.group(1).decode() != FORMAT:
        raise DataError(f"{path} is not an llmbench router policy (format must be {FORMAT!r})")
    if int(head.group(2)) not in READS:
        raise DataError(
            f"policy {path} has version {int(head.group(2))}; this llmbench reads versions {list(READS)}"
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
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"policy file {path} is not valid JSON: {exc!r}") from None
    if not isinstance(policy, dict):
        raise DataError(f"policy file {path} has no policy object")
    return policy, digest
