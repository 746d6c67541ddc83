"""Experiment files (YAML or TOML) for `llmbench eval`.

# experiments/default.yaml
name: default-sim
datasets: [../datasets/arithmetic.jsonl, ../datasets/classification.jsonl]   # relative to this file
models: [sim:gpt-4.1-nano, sim:gpt-4o]
scorer: null            # null: each item's own scorer (from the dataset)
scorer_options:         # per scorer (name or alias): its options
  numeric: {abs_tol: 0.01}
epochs: 1
concurrency: 16         # calls in flight, all providers together
providers:              # per-provider limits
  openai: {concurrency: 8, requests_per_minute: 500, tokens_per_minute: 200000}
max_cost: 1.00          # USD; the run stops cleanly when reached
batch: false            # true: through the providers' batch APIs at half price (per provider: providers.X.batch)
params: {temperature: 0, max_tokens: 512}
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from llmbench import yaml_safe
from llmbench.errors import ConfigError
from llmbench.providers.model_ref import ModelRef
from llmbench.scorers import SCORERS

MAX_CONCURRENCY = 4096
MAX_EPOCHS = 1000


# Call parameters that would change what is billed or bypass what the experiment says: the model (priced by the
# `models` entry), how many answers are billed (n, best_of), the price tier, the prompt and tools (from the items),
# and raw body/header/query overrides that could carry any of these.
REFUSED_PARAMS = {
    "model": "the model comes from `models` (it is what is priced)",
    "n": "one answer per call is what is priced and scored; use `epochs` for repeats",
    "best_of": "it bills several answers per call",
    "service_tier": "it changes the price per token",
    "messages": "the prompt comes from the dataset",
    "prompt": "the prompt comes from the dataset",
    "input": "the prompt comes from the dataset",
    "system": "use `system_prompt`",
    "tools": "tools come from the items' metadata.tools",
    "stream": "use `stream:`",
    "stream_options": "use `stream:`",
    "extra_body": "it can override the model or what is billed",
    "extra_query": "it can change the request",
    "extra_headers": "it can change the request",
}


class GenerationParams(BaseModel):
    """The call parameters llmbench checks (others pass through as given); numbers are numbers, not `true`."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: str | list[str] | None = None


class ProviderLimits(BaseModel):
    """Concurrency and rate limits of one provider (None: no limit)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    # below one request a minute a run of any size never ends: such a limit is a typo
    requests_per_minute: float | None = Field(default=None, ge=1)
    tokens_per_minute: float | None = Field(default=None, ge=100)
    batch: bool | None = Field(default=None, description="send this provider's calls through its batch API")


class ExperimentConfig(BaseModel):
    """What to run: datasets x models x epochs, how fast, and how much it may cost."""

    # strict: `max_cost: true` is not $1, nor `epochs: "3"` three; a whole number still passes as a float
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    name: str = Field(min_length=1, max_length=200)
    datasets: list[str] = Field(min_length=1, max_length=1000)
    models: list[str] = Field(min_length=1, max_length=1000)
    scorer: str | None = None
    scorer_options: dict[str, dict[str, Any]] = {}
    judge_model: str | None = None
    # the judge's agreement with human labels (`llmbench judge calibrate --save`; a path in the file is read in)
    judge_calibration: dict[str, Any] | None = None
    epochs: int = Field(default=1, ge=1, le=MAX_EPOCHS)
    concurrency: int = Field(default=16, ge=1, le=MAX_CONCURRENCY)
    providers: dict[str, ProviderLimits] = {}
    max_cost: float | None = Field(default=None, ge=0)
    params: dict[str, Any] = {}
    system_prompt: str | None = None
    stream: bool = False
    timeout: float = Field(default=60.0, gt=0, le=3600)
    max_attempts: int = Field(default=3, ge=1, le=20)
    seed: int = 0
    limit: int | None = Field(default=None, ge=1, description="only the first N items of each dataset")
    ray: str | None = Field(
        default=None, description="run attempts and scoring on this Ray cluster (local, auto, or its address)"
    )
    unsafe_code: bool = Field(default=False, description="run model-written code without a sandbox (opt-in)")
    allow_unpriced: bool = Field(
        default=False, description="run unpriced models under max_cost (counted as $0)"
    )
    batch: bool = Field(
        default=False, description="send calls through the providers' batch APIs (half price)"
    )
    batch_fallback: Literal["resubmit", "live"] = Field(
        default="resubmit", description="failed batch requests: submitted once more, or run live"
    )

    _refs: dict[str, ModelRef] = PrivateAttr(default_factory=dict)

    @field_validator("scorer_options")
    @classmethod
    def _scorer_names(cls, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Keyed by each scorer's own name (an alias or another spelling finds it; an unknown name is refused)."""
        out: dict[str, dict[str, Any]] = {}
        for name, opts in options.items():
            kind = SCORERS.find(name)
            if kind is None:
                raise ValueError(
                    f"scorer_options names {name!r}, which is not a scorer ({', '.join(SCORERS.names())})"
                )
            if kind.name in out:
                raise ValueError(
                    f"scorer_options gives {kind.name!r} twice ({name!r} is another name for it)"
                )
            out[kind.name] = opts
        return out

    @field_validator("params")
    @classmethod
    def _params(cls, params: dict[str, Any]) -> dict[str, Any]:
        for name, why in REFUSED_PARAMS.items():
            if name in params:
                raise ValueError(f"params.{name} is not allowed: {why}")
        GenerationParams.model_validate(params)
        return params

    @field_validator("models")
    @classmethod
    def _model_ids(cls, models: list[str]) -> list[str]:
        if len(set(models)) != len(models):
            raise ValueError("a model is listed twice")
        return models

    @model_validator(mode="after")
    def _parse_models(self) -> ExperimentConfig:
        """Parse every model id once; the runner builds providers from these references."""
        try:
            self._refs = {m: ModelRef.parse(m) for m in self.models}
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if self.ray is not None and any(self.batched(m) for m in self.models):
            raise ValueError("ray runs live calls and batch sends them to a provider's batch API: choose one")
        return self

    def ref(self, model_id: str) -> ModelRef:
        """The parsed reference of one of the experiment's model ids."""
        return self._refs[model_id]

    @property
    def simulated(self) -> bool:
        """Whether every model is a `sim:` model."""
        return all(self._refs[m].provider == "sim" for m in self.models)

    def batched(self, model_id: str) -> bool:
        """Whether a model's calls go through its provider's batch API (`batch`, or `batch` of its provider)."""
        limits = self.providers.get(self._refs[model_id].provider)
        return limits.batch if limits is not None and limits.batch is not None else self.batch

    def call_params(self) -> dict[str, Any]:
        """The parameters that change answers (part of the resume key)."""
        return {"params": self.params, "system_prompt": self.system_prompt, "seed": self.seed}


def load_experiment(path: str | Path, **overrides: Any) -> ExperimentConfig:
    """Read and validate an experiment file; relative dataset paths are resolved against the file's folder."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"experiment file {p} does not exist; pass a YAML or TOML file (see experiments/)")
    text = p.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if p.suffix == ".toml" else yaml_safe.load(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"experiment file {p} is not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        # PyYAML's own text spans several lines with carets; keep the error to one line.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"experiment file {p} is not valid YAML{where}: {problem}; fix the syntax"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"experiment file {p} must hold a mapping (name, datasets, models, ...)")
    raw.setdefault("name", p.stem)
    if isinstance(raw.get("datasets"), str):
        raw["datasets"] = [raw["datasets"]]
    raw["datasets"] = [_dataset_source(p.parent, d) for d in raw.get("datasets", [])]
    if isinstance(raw.get("judge_calibration"), str):
        raw["judge_calibration"] = _calibration(p.parent / raw["judge_calibration"])
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return validate_config(raw, source=str(p))


def _calibration(path: Path) -> Any:
    """A judge calibration file, read into the config so that it is stored (and hashed) with the experiment."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"judge_calibration {path}: cannot read it ({exc}); write it with `llmbench judge "
            "calibrate --save`"
        ) from None


def _dataset_source(folder: Path, source: Any) -> Any:
    """A dataset entry of an experiment file: a path relative to the file's folder, or else as written (a shipped
    set's name such as `arithmetic`, a `bfcl:` source, an absolute path); a non-string is left to validation."""
    if not isinstance(source, str) or Path(source).is_absolute():
        return source
    beside = folder / source
    if beside.exists() or Path(source).suffix or "/" in source or ":" in source:
        return str(beside.resolve()) if ":" not in source else source
    return source


def validate_config(raw: dict[str, Any], *, source: str = "flags") -> ExperimentConfig:
    """Validate a config mapping, turning pydantic errors into one readable ConfigError."""
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid experiment ({source}): {problems}") from None
