"""Cheap deterministic scorers: exact match, numeric answer, multiple-choice letter, regex, contains, JSON.

They run once per call in an eval, so they avoid per-call regex compilation and other waste.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from typing import Any

import jsonschema

from llmbench.errors import ConfigError, DataError
from llmbench.scorers.base import SCORERS, Answer, Examples, Score, Scorer, reference_of

_PUNCT = re.compile(r"[^\w\s]|_")  # punctuation and symbols
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Casefolded, punctuation and symbols removed, whitespace collapsed (so "The  answer." == "the answer")."""
    return _SPACES.sub(" ", _PUNCT.sub("", unicodedata.normalize("NFKC", str(text)).casefold())).strip()


def _as_list(reference: Any) -> list[Any]:
    if reference is None:
        raise DataError("the item has no reference; this scorer needs one (set `reference` in the dataset).")
    return list(reference) if isinstance(reference, list | tuple) else [reference]


@SCORERS.register
class ExactMatch(Scorer):
    """1 when the output equals the reference (or one of a list of references) after normalising."""

    name = "exact_match"
    aliases = ("exact", "match")

    def __init__(self, normalize: bool = True) -> None:
        self.normalize = normalize

    def grade(self, answer: Answer, item: Any) -> Score:
        output = answer.text
        refs = _as_list(reference_of(item))
        norm = normalize_text if self.normalize else str.strip
        got = norm(output)
        for ref in refs:
            if got == norm(str(ref)):
                return Score(1.0, f"matches {ref!r}")
        return Score(
            0.0, f"{output[:80]!r} does not match {refs[0]!r}" + (" or others" if len(refs) > 1 else "")
        )


# A number: optional sign, digits with optional thousands separators, optional decimals and exponent.
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|(?<![\w.])[-−]?\.\d+"
)


def last_number(text: str) -> float | None:
    """The last number in `text` ("1,234.5" -> 1234.5, "-3" -> -3.0), or None."""
    found = _NUMBER.findall(str(text))
    if not found:
        return None
    return float(found[-1].replace(",", "").replace("−", "-"))


@SCORERS.register
class NumericAnswer(Scorer):
    """1 when the last number in the output equals the reference within `abs_tol` or `rel_tol`."""

    name = "numeric"
    aliases = ("number",)

    def __init__(self, abs_tol: float = 1e-6, rel_tol: float = 1e-6) -> None:
        self.abs_tol = abs_tol
        self.rel_tol = rel_tol

    def examples(self, item: Any) -> Examples:
        """The reference stated at the end of some working, as models answer word problems."""
        shown = super().examples(item)
        correct = f"Working through the steps carefully, the final answer is {reference_of(item)}"
        return Examples(correct, shown.wrong)

    def grade(self, answer: Answer, item: Any) -> Score:
        output = answer.text
        ref = reference_of(item)
        try:
            expected = float(str(ref).replace(",", "")) if not isinstance(ref, int | float) else float(ref)
        except ValueError:
            raise DataError(
                f"numeric scorer: reference {ref!r} is not a number; give a plain number."
            ) from None
        got = last_number(output)
        if got is None:
            return Score(0.0, "no number in the output")
        if math.isclose(got, expected, rel_tol=self.rel_tol, abs_tol=self.abs_tol):
            return Score(1.0, f"{got:g} == {expected:g}")
        return Score(0.0, f"last number {got:g} != {expected:g}")


@SCORERS.register
class MultipleChoice(Scorer):
    """1 when the chosen letter (from "Answer: B", "(B)", "B." or a bare "B") equals the reference letter."""

    name = "choice"
    aliases = ("multiple_choice", "mcq")

    def __init__(self, letters: str = "ABCDEFGHIJ") -> None:
        self.letters = letters.upper()
        cls = f"[{re.escape(self.letters)}]"
        self._stated = re.compile(rf"answer(?:\s+is)?\s*[:：]?\s*\(?({cls})\b", re.IGNORECASE)
        self._bare = re.compile(rf"^\W*({cls})\W*$")
        self._line = re.compile(rf"^\s*\(?({cls})[\).:]", re.MULTILINE)
        self._paren = re.compile(rf"\(({cls})\)")

    def choice(self, text: str) -> str | None:
        """The letter the text chooses, or None when it names none."""
        for pattern, last in (
            (self._stated, True),
            (self._bare, True),
            (self._line, False),
            (self._paren, True),
        ):
            found = pattern.findall(text)
            if found:
                return str(found[-1] if last else found[0]).upper()
        return None

    def grade(self, answer: Answer, item: Any) -> Score:
        output = answer.text
        ref = reference_of(item)
        expected = self.letters[ref] if isinstance(ref, int) else str(ref).strip().strip("()").upper()
        if expected not in self.letters or len(expected) != 1:
            raise DataError(f"choice scorer: reference {ref!r} is not one of the letters {self.letters}.")
        got = self.choice(output)
        if got is None:
            return Score(0.0, "no answer letter found")
        return Score(float(got == expected), f"chose {got}, expected {expected}")


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ConfigError(f"regex scorer: bad pattern {pattern!r} ({exc}).") from None


@SCORERS.register
class RegexMatch(Scorer):
    """1 when `pattern` (default: the item's reference) is found in the output (`fullmatch`: is the output)."""

    name = "regex"

    def __init__(self, pattern: str | None = None, ignore_case: bool = True, fullmatch: bool = False) -> None:
        self.pattern = pattern
        self.flags = re.IGNORECASE if ignore_case else 0
        self.fullmatch = fullmatch
        if pattern is not None:
            _compile(pattern, self.flags)

    def _pattern(self, item: Any) -> re.Pattern[str]:
        pattern = self.pattern if self.pattern is not None else reference_of(item)
        if not isinstance(pattern, str):
            raise DataError(
                "regex scorer: no pattern; make the item's reference a regex string (in code: RegexMatch(pattern=...))."
            )
        return _compile(pattern, self.flags)

    def check_item(self, item: Any) -> None:
        """The item's pattern compiles (a bad regex is found before any paid call)."""
        self._pattern(item)

    def grade(self, answer: Answer, item: Any) -> Score:
        output = answer.text
        rx = self._pattern(item)
        pattern = rx.pattern
        hit = rx.fullmatch(output.strip()) if self.fullmatch else rx.search(output)
        return Score(1.0 if hit else 0.0, f"{'matched' if hit else 'no match for'} /{pattern}/")


@SCORERS.register
class Contains(Scorer):
    """1 when the output contains the reference (any of a list; all with `require_all`) as whole words.

    Both sides are normalised like `exact_match` (case, punctuation, spaces), so "Na" is found in
    "Its symbol is Na." but not in "Canada"; `normalize=False` does a plain case-insensitive substring test.
    """

    name = "contains"
    aliases = ("includes",)

    def __init__(self, normalize: bool = True, require_all: bool = False) -> None:
        self.normalize = normalize
        self.require_all = require_all

    def _norm(self, text: str) -> str:
        if self.normalize:
            return f" {normalize_text(text)} "
        return _SPACES.sub(" ", str(text)).casefold()

    def grade(self, answer: Answer, item: Any) -> Score:
        output = answer.text
        refs = [str(r) for r in _as_list(reference_of(item))]
        hay = self._norm(output)
        found = [r for r in refs if self._norm(r).strip() and self._norm(r) in hay]
        ok = len(found) == len(refs) if self.require_all else bool(found)
        missing = [r for r in refs if r not in found]
        return Score(float(ok), f"found {found}" if ok else f"missing {missing[:3]}")


_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text`: a fenced ```json block, the whole text, or embedded."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            return json.loads(candidate)
        except ValueError:
            pass
        for start, ch in enumerate(candidate):
            if ch in "{[":
                try:
                    return _DECODER.raw_decode(candidate, start)[0]
                except ValueError:
                    continue
    raise ValueError("no JSON object found")


@functools.lru_cache(maxsize=128)
def _validator(schema_text: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise DataError(f"json scorer: the JSON Schema is invalid ({exc.message}).") from None
    return cls(schema)


def _same(a: Any, b: Any) -> bool:
    """Equality for extracted values: strings normalised, numbers within rounding, "4471" == 4471."""
    if isinstance(a, str) and isinstance(b, str):
        return normalize_text(a) == normalize_text(b)
    if isinstance(a, str) != isinstance(b, str) and all(isinstance(x, str | int) for x in (a, b)):
        return not isinstance(a, bool) and not isinstance(b, bool) and str(a).strip() == str(b).strip()
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@SCORERS.register
class JsonSchema(Scorer):
    """JSON in the output that validates against a schema; with an expected value, how much of it is right.

    The schema comes from `schema=` given here, else the item's `metadata["schema"]`; the expected value is
    the item's reference (a dict scores the share of its fields the output gets right, strings compared
    normalised). A reference `{"schema": ..., "expected": ...}` carries both. No schema: any JSON is valid.
    """

    name = "json_schema"
    aliases = ("json",)

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self.schema = schema
        if schema is not None:
            _validator(json.dumps(schema, sort_keys=True))

    def _schema_and_expected(self, item: Any) -> tuple[Any, Any]:
        ref = reference_of(item)
        meta = getattr(item, "metadata", None)
        if meta is None and isinstance(item, dict):
            meta = item.get("metadata")
        schema = self.schema if self.schema is not None else (meta or {}).get("schema")
        expected = ref
        if isinstance(ref, dict) and ref and set(ref) <= {"schema", "expected"}:
            schema = ref.get("schema", schema)
            expected = ref.get("expected")
        return schema, expected

    def check_item(self, item: Any) -> None:
        """The item's schema is a valid JSON Schema (found before any paid call)."""
        schema, _ = self._schema_and_expected(item)
        if schema is not None:
            _validator(json.dumps(schema, sort_keys=True))

    def grade(self, answer: Answer, item: Any) -> Score:
        output = answer.text
        schema, expected = self._schema_and_expected(item)
        try:
            data = extract_json(output)
        except ValueError:
            return Score(0.0, "no JSON found in the output")
        if schema is not None:
            errors = sorted(_validator(json.dumps(schema, sort_keys=True)).iter_errors(data), key=str)
            if errors:
                path = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
                return Score(0.0, f"JSON does not match the schema at {path}: {errors[0].message}")
        if not isinstance(expected, dict):
            if expected is not None:
                return Score(
                    float(_same(data, expected)),
                    "equals the expected value"
                    if _same(data, expected)
                    else "differs from the expected value",
                )
            return Score(1.0, "valid JSON" + (" matching the schema" if schema is not None else ""))
        if not isinstance(data, dict):
            return Score(0.0, "expected a JSON object")
        wrong = [k for k, v in expected.items() if k not in data or not _same(data[k], v)]
        value = (len(expected) - len(wrong)) / len(expected) if expected else 1.0
        return Score(value, "all fields right" if not wrong else f"wrong or missing: {', '.join(wrong[:5])}")
