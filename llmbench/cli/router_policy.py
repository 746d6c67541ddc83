"""Router commands on a policy file: `llmbench route`, `router add-model`, `router promote`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, TrackOpt, console
from llmbench.cli.router import (
    BenchmarkOpt,
    ExperimentOpt,
    RouteLLMOpt,
    RouterBenchOpt,
    ScoreOpt,
    log_router_command,
    router_app,
)
from llmbench.cli.router_inputs import load
from llmbench.errors import ConfigError

__all__ = ["add_model", "promote", "route"]


@router_app.command("add-model")
def add_model(
    policy: Annotated[Path, typer.Argument(help="the trained router's policy file")],
    model: Annotated[
        str, typer.Option("--model", help="the model to add (its runs are in the probe source)")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the policy that routes to it too")],
    store: StoreOpt = None,
    experiment: ExperimentOpt = None,
    score: ScoreOpt = None,
    routerbench: RouterBenchOpt = None,
    routellm: RouteLLMOpt = None,
    benchmark: BenchmarkOpt = "mmlu",
    track: TrackOpt = True,
) -> None:
    """Add a model to a trained router from its runs on a few probe prompts (up to a few hundred), without
    retraining: it is estimated from the trained models' estimates, weighted as its probe results fit theirs."""
    from llmbench.router import RouterPolicy

    frame, source = load(store, experiment, score, routerbench, routellm, benchmark)
    served = RouterPolicy.load(policy)
    digest = served.with_model(frame, model).save(out)
    prompts = frame.loc[frame["model"] == model, "prompt"].nunique()
    console.print(f"added {model} from {prompts} probe prompts; wrote {out} (sha256 {digest[:16]}...)")
    if track:
        log_router_command(
            "router add-model", source, {"probe_prompts": prompts}, params={"model": model}, policy=out
        )


@app.command("route")
def route(
    policy: Annotated[
        str,
        typer.Argument(help="a policy file (`llmbench router export`) or an MLflow URI: models:/NAME@ALIAS"),
    ],
    prompt: Annotated[str, typer.Argument(help="the prompt to route")],
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
    lambda_: Annotated[float | None, typer.Option("--lambda", help="override the policy's lambda")] = None,
    task: Annotated[str | None, typer.Option("--task", help="the prompt's task label, when known")] = None,
) -> None:
    """Route one prompt with an exported policy: the chosen model, expected quality and cost, fallbacks."""
    from llmbench.router.routed import (
        load_policy,  # a file or the registry, as `serve` and `router:` models take it
    )

    decision = load_policy(policy).route(prompt, lambda_=lambda_, task=task)
    if as_json:
        typer.echo(json.dumps(decision.to_dict()))
        return
    console.print(
        f"[bold]{decision.model}[/]  expected quality {decision.expected_quality:.3f}, "
        f"expected cost ${decision.expected_cost:.6f}  (task {decision.task}, p={decision.task_probability:.2f})"
    )
    for i, fb in enumerate(decision.fallbacks, 1):
        console.print(
            f"  fallback {i}: {fb.model}  quality {fb.expected_quality:.3f}, cost ${fb.expected_cost:.6f}"
        )


@router_app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="registered model name (router export --register NAME)")],
    version: Annotated[str, typer.Argument(help="the version to point the alias at")],
    alias: Annotated[str, typer.Option("--alias", help="alias to set, e.g. champion")] = "champion",
) -> None:
    """Point a registry alias at a policy version; serve it as `router:models:/NAME@ALIAS`."""
    from llmbench.tracking.mlflow_runs import client_for

    client = client_for(None)
    try:
        client.get_model_version(name, version)
    except Exception:
        raise ConfigError(
            f"no version {version} of a registered model {name!r}; `router export --register` makes one"
        ) from None
    client.set_registered_model_alias(name, alias, version)
    console.print(f"{name}@{alias} -> version {version}; serve it as router:models:/{name}@{alias}")
