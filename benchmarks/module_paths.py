"""How many llmbench modules a value passes through on its way (the redesign's "one place per change" measure).

1. a model id from the `llmbench eval` command line to its DuckDB row (until the transaction writing its call row
   returns; then, for comparison, all of the command, where the summary table reads it back and prints it);
2. a policy from `llmbench router export` to a request the gateway routes with it.

A module is touched when one of its functions is called with the value among its arguments: the id itself (alone or
in a list, tuple or dict of the call), or an object carrying it (`model_id`, a `ModelRef`, a `Provider`); for the
policy: its file path, its hash, or the `PolicyFile` / `RouterPolicy` / `RouterProvider` holding it. It hands the
value on when such a call comes from it into another llmbench module (the path; the rest only read the value:
redaction, encoding checks, a warning). Run:

    .venv/bin/python benchmarks/module_paths.py
"""

from __future__ import annotations

import functools
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from typer.testing import CliRunner

import llmbench
from llmbench.cli import app

PACKAGE = str(Path(llmbench.__file__).parent)


def _module(frame: FrameType) -> str | None:
    path = frame.f_code.co_filename
    if not path.startswith(PACKAGE):
        return None
    return "llmbench" + path[len(PACKAGE) : -3].replace("/", ".").removesuffix(".__init__")


def trace(
    carries: Callable[[Any], bool],
    run: Callable[[], None],
    arrived: Callable[[FrameType], bool] | None = None,
) -> tuple[list[str], list[str]]:
    """(the llmbench modules whose functions were called with a value `carries` accepts, in first-seen order;
    those that handed it on to another llmbench module), until a function returns whose frame `arrived`
    accepts: the value is where it was going (later calls carry a copy read back, e.g. to print it)."""
    seen: dict[str, None] = {}
    handing: dict[str, None] = {}
    there = False

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal there
        if event == "return" and arrived is not None and not there and arrived(frame):
            there = True
        if event != "call" or there:
            return
        module = _module(frame)
        if module is None:
            return
        args = frame.f_code.co_varnames[: frame.f_code.co_argcount + frame.f_code.co_kwonlyargcount]
        values = [frame.f_locals.get(a) for a in args]
        for v in values:
            inner = (
                list(v.values()) if isinstance(v, dict) else list(v) if isinstance(v, list | tuple) else []
            )
            if carries(v) or any(carries(x) for x in inner[:50]):
                seen[module] = None
                caller = _module(frame.f_back) if frame.f_back is not None else None
                if caller is not None and caller != module:
                    handing[caller] = None
                return

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    return list(seen), list(handing)


def _cli(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def model_id_path(tmp: Path, *, to_the_row: bool = True) -> tuple[list[str], list[str]]:
    model = "sim:gpt-4o"
    exp = tmp / "one.yaml"
    factual = Path(llmbench.__file__).parent / "shipped" / "datasets" / "factual.jsonl"
    exp.write_text(f"name: one\ndatasets: [{factual}]\nmodels: [{model}]\n")

    def carries(v: Any) -> bool:
        if isinstance(v, str):
            return v == model
        return getattr(v, "model_id", None) == model or getattr(v, "id", None) == model

    def stored(frame: FrameType) -> bool:
        """The transaction that writes the model's call row has returned."""
        calls = frame.f_locals.get("calls") if frame.f_code.co_name == "write_results" else None
        return bool(calls) and any(carries(c) for c in calls)

    def run() -> None:
        _cli("eval", str(exp), "--limit", "1", "--store", str(tmp / "a.duckdb"), "--no-track")

    return trace(carries, run, stored if to_the_row else None)


def policy_path(tmp: Path) -> tuple[list[str], list[str]]:
    import openai

    from llmbench.serve import GatewayConfig, running

    store = str(tmp / "b.duckdb")
    _cli("eval", "--limit", "6", "--store", store, "--no-track")
    policy = tmp / "policy.json"
    digest: list[str] = []

    def carries(v: Any) -> bool:
        if isinstance(v, str | Path):
            return str(v) == str(policy) or (bool(digest) and str(v) == digest[0])
        sha = getattr(v, "sha256", None) or getattr(getattr(v, "policy", None), "sha256", None)
        return type(v).__name__ == "PolicyFile" or (bool(digest) and sha == digest[0])

    def run() -> None:
        _cli(
            "router",
            "export",
            "-o",
            str(policy),
            "--store",
            store,
            "-e",
            "default-sim",
            "--lambda",
            "0",
            "--no-track",
        )
        from llmbench.router.policy_file import read_policy

        digest.append(read_policy(policy)[1])
        config = GatewayConfig(port=0, policy=str(policy), store=tmp / "gw.duckdb")
        with running(config) as (url, _):
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            client.chat.completions.create(
                model="router", messages=[{"role": "user", "content": "What is 2+2?"}]
            )

    return trace(carries, run)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, measure) in enumerate(
            (
                ("model id: CLI -> DuckDB row", model_id_path),
                (
                    "model id: all of `llmbench eval` (the row read back and printed too)",
                    functools.partial(model_id_path, to_the_row=False),
                ),
                ("policy: export -> serve", policy_path),
            )
        ):
            (Path(tmp) / str(n)).mkdir()
            touched, path = measure(Path(tmp) / str(n))
            print(f"{name}: {len(path)} modules hand it on, {len(touched)} touch it")
            for m in touched:
                print(f"    {m}{'  (hands it on)' if m in path else ''}")


if __name__ == "__main__":
    main()
