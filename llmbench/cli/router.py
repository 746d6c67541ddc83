"""`llmbench router train|eval|export` and `llmbench route`: the learned router from the command line.

Thin over `llmbench.router`: every command reads a runs frame (from the run store, or straight from the
public RouterBench / RouteLLM files), calls the public API and prints the result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from llmbench.cli.app import app
from llmbench.cli.options import StoreOpt, TrackOpt, console, quoted
from llmbench.cli.router_inputs import load, mode_arg, target_arg
from llmbench.cli.router_tables import (
    candidate_table,
    interval_table,
    per_task_table,
    results_table,
    robustness_table,
)
from llmbench.errors import ConfigError, redact
from llmbench.mlflow_uri import browse_hint

router_app = typer.Typer(
    help="Train, evaluate and export the learned cost-aware router.", no_args_is_help=True
)
app.add_typer(router_app, name="router")
ExperimentOpt = Annotated[
    list[str] | None, typer.Option("--experiment", "-e", help="experiment(s) in the store (repeatable)")
]
ScoreOpt = Annotated[
    str | None, typer.Option("--score", help="scorer to use as quality (default: the primary)")
]
RouterBenchOpt = Annotated[
    Path | None, typer.Option("--routerbench", help="RouterBench CSV file or folder (instead of --store)")
]
RouteLLMOpt = Annotated[
    Path | None, typer.Option("--routellm", help="RouteLLM data folder (instead of --store)")
]
BenchmarkOpt = Annotated[str, typer.Option("--benchmark", help="with --routellm: mmlu, gsm8k or mt_bench")]
LambdaOpt = Annotated[float, typer.Option("--lambda", help="cost weight: quality units per USD per call")]
ModeOpt = Annotated[
    str, typer.Option("--mode", help="cost (argmax quality - lambda*cost) or threshold (two models)")
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        "--target",
        help="calibrate for budget=USD_PER_1K, strong_share=0..1 or quality_floor=0..1 (of best model)",
    ),
]
LatencyWeightOpt = Annotated[
    float, typer.Option("--latency-weight", help="quality given up per second of logged p50 latency")
]
MaxP95Opt = Annotated[
    float | None,
    typer.Option("--max-p95-latency", help="seconds: never route where a model's logged p95 exceeds"),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed of the prompt-grouped split")]
TestSizeOpt = Annotated[float, typer.Option("--test-size", help="held-out share when the data has no split")]


def log_router_command(command: str, source: dict[str, Any], results: Any, **options: Any) -> None:
    """`llmbench.api.track_router` with its outcome printed (tracking trouble never fails the command)."""
    from llmbench.api import track_router

    with console.status(f"logging {command} to MLflow"):
        run_id, name, error = track_router(command, source, results, **options)
    if error is not None:
        console.print(f"[yellow]MLflow logging failed ({quoted(error)})[/]")
    else:
        console.print(f"MLflow run {run_id} ({name}) logged; {browse_hint()}")


@router_app.command("train")
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the trained router (policy JSON)")],
    store: StoreOpt = None,
    experiment: ExperimentOpt = None,
    score: ScoreOpt = None,
    routerbench: RouterBenchOpt = None,
    routellm: RouteLLMOpt = None,
    benchmark: BenchmarkOpt = "mmlu",
    lambda_: LambdaOpt = 0.0,
    mode: ModeOpt = "cost",
    latency_weight: LatencyWeightOpt = 0.0,
    max_p95: MaxP95Opt = None,
    track: TrackOpt = True,
) -> None:
    """Train the router on all given runs and write it as a policy file."""
    import time

    from llmbench.router.estimator import RouterEstimator

    mode_arg(mode)
    with console.status("reading the runs and training the router"):
        frame, source = load(store, experiment, score, routerbench, routellm, benchmark)
        started = time.perf_counter()
        router = RouterEstimator(
            lambda_=lambda_, mode=mode, latency_weight=latency_weight, max_p95_latency=max_p95
        ).fit(frame)
        took = time.perf_counter() - started
    if out.is_dir() or out.suffix == "":
        out.mkdir(parents=True, exist_ok=True)
        out = out / "router.json"  # a folder gets the router as router.json inside it
    digest = router.export(out, trained_on=source)
    console.print(
        f"trained on {source['source']} ({len(router.models_)} models, {len(router.classes_)} tasks) in {took:.1f} s"
    )
    console.print(f"wrote {out} (sha256 {digest[:16]}...)")
    if track:
        log_router_command(
            "router train",
            source,
            {"train_seconds": took},
            params={"lambda": f"{float(lambda_):g}"},
            policy=out,
        )


@router_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="policy file to write")],
    model: Annotated[Path | None, typer.Option("--model", help="a trained router file to re-export")] = None,
    store: StoreOpt = None,
    experiment: ExperimentOpt = None,
    score: ScoreOpt = None,
    routerbench: RouterBenchOpt = None,
    routellm: RouteLLMOpt = None,
    benchmark: BenchmarkOpt = "mmlu",
    lambda_: Annotated[float | None, typer.Option("--lambda", help="cost weight (quality per USD)")] = None,
    mode: ModeOpt = "cost",
    target: TargetOpt = None,
    seed: SeedOpt = 0,
    latency_weight: LatencyWeightOpt = 0.0,
    max_p95: MaxP95Opt = None,
    track: TrackOpt = True,
    register: Annotated[
        str | None,
        typer.Option("--register", help="also register the policy in MLflow's model registry as NAME"),
    ] = None,
) -> None:
    """Write ONE policy file: re-export a trained router with a new lambda, or train (and calibrate) and export."""
    if register and not track:
        raise ConfigError("--register logs the policy to MLflow: drop --no-track")
    if model is not None:
        from llmbench.router.policy_file import PolicyFile

        policy, _ = PolicyFile.load(model)
        if lambda_ is not None:
            policy = policy.with_lambda(lambda_)
        digest = policy.save(output)
        console.print(f"wrote {output} (lambda {policy.lambda_:g}, sha256 {digest[:16]}...)")
        if track:
            log_router_command(
                "router export",
                {"source": "policy", "path": str(model)},
                {},
                policy=output,
                params={"lambda": f"{policy.lambda_:g}"},
                register=register,
            )
        return
    from llmbench.router.calibrate import calibrate_and_test
    from llmbench.router.data import routing_data
    from llmbench.router.estimator import RouterEstimator

    tgt, _ = target_arg(target), mode_arg(mode)
    with console.status("reading the runs"):
        frame, source = load(store, experiment, score, routerbench, routellm, benchmark)
    router = RouterEstimator(
        lambda_=lambda_ or 0.0, mode=mode, latency_weight=latency_weight, max_p95_latency=max_p95
    )
    if tgt is not None:
        with console.status(f"training and calibrating for {target}"):
            data = routing_data(frame)
            router, cal = calibrate_and_test(router, data, data, tgt[0], tgt[1], seed=seed)
        source = {
            **source,
            "calibration": {
                "target": cal.target,
                "value": cal.value,
                "setting": cal.setting,
                "calib": cal.calib,
            },
        }
        console.print(
            f"calibrated {cal.parameter} = {cal.setting:g} for {cal.target}={cal.value:g} "
            f"(calibration split: {operating_point(cal.calib)})"
        )
    else:
        with console.status("training the router"):
            router.fit(frame)
    digest = router.export(output, trained_on=source)
    console.print(f"wrote {output} (sha256 {digest[:16]}...)")
    if track:
        log_router_command(
            "router export",
            source,
            {},
            policy=output,
            register=register,
            params={"lambda": f"{float(router.lambda_):g}", "target": target or "", "mode": mode},
        )


@router_app.command("eval")
def evaluate(
    store: StoreOpt = None,
    experiment: ExperimentOpt = None,
    score: ScoreOpt = None,
    routerbench: RouterBenchOpt = None,
    routellm: RouteLLMOpt = None,
    benchmark: BenchmarkOpt = "mmlu",
    test_size: TestSizeOpt = 0.5,
    seed: SeedOpt = 0,
    target: TargetOpt = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the tables as JSON here")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="resamples of the test prompts for 90% intervals (0: none)")
    ] = 200,
    latency_weight: LatencyWeightOpt = 0.0,
    max_p95: MaxP95Opt = None,
    robust: Annotated[
        bool,
        typer.Option("--robustness", help="share of test prompts routed alike after small perturbations"),
    ] = False,
    track: TrackOpt = True,
) -> None:
    """Held-out evaluation: the router against every baseline (AIQ, cost saving, APGR, CPT, per task).

    Once the tables are printed the command exits 0: a later step that fails (intervals, calibration, MLflow)
    is reported on its own line and the rest still runs.
    """
    from llmbench.api import router_results
    from llmbench.router.data import train_test_split
    from llmbench.router.evaluate import evaluate_router
    from llmbench.router.selection import in_words

    tgt = target_arg(target)
    if bootstrap and bootstrap < 10:
        raise ConfigError(f"--bootstrap must be 0 (none) or at least 10 resamples, got {bootstrap}")
    with console.status("reading the runs"):
        frame, source = load(store, experiment, score, routerbench, routellm, benchmark)
        train_data, test_data = train_test_split(frame, test_size, seed=seed)
    with console.status(
        f"training the router and its baselines on {len(train_data)} prompts, testing on {len(test_data)}"
    ):
        ev = evaluate_router(train_data, test_data, router=_router(latency_weight, max_p95), seed=seed)
    console.print(
        f"{source['source']}: {ev.n_train} train / {ev.n_test} test prompts "
        f"({ev.n_test_dropped} test prompts without a score/cost for every model left out); "
        f"best single model: {ev.best_model}"
    )
    console.print(candidate_table(ev.router))
    console.print(in_words(ev.router.choice_, ev.router.candidate_scores_, ev.router.cost_model_))
    if latency_weight or max_p95 is not None:
        console.print(
            f"The router ranks with latency (weight {latency_weight:g} per second of p50"
            + (f", p95 at most {max_p95:g} s" if max_p95 is not None else "")
            + "); the baselines and single models below do not, so their rows show what the constraint costs."
        )
    console.print(results_table(ev.table, title="Held-out comparison (every figure from the test split)"))
    for metric, why in ev.notes.items():
        console.print(f"[dim]{metric} n/a: {why}[/]")
    console.print(per_task_table(ev.per_task))
    out: dict[str, Any] = {"source": source, "table": ev.table, "per_task": ev.per_task, "notes": ev.notes}
    intervals = cal = None
    if bootstrap:
        from llmbench.router.bootstrap import bootstrap_intervals

        with (
            _step("bootstrap intervals"),
            console.status(f"bootstrap: {bootstrap} resamples of the test prompts"),
        ):
            intervals = bootstrap_intervals(ev, n_boot=bootstrap, seed=seed)
            console.print(interval_table(intervals, bootstrap))
            out["intervals"] = intervals
    if robust:
        from llmbench.router.robustness import robustness

        with _step("robustness"), console.status("routing perturbed test prompts"):
            kept = robustness(ev.router, list(ev.test.prompts), seed=seed)
            console.print(robustness_table(kept))
            out["robustness"] = kept
    if tgt is not None:
        from llmbench.router.calibrate import calibrate_and_test

        with _step(f"calibration for {target}"), console.status(f"calibrating for {target}"):
            _, cal = calibrate_and_test(
                _router(latency_weight, max_p95), train_data, test_data, *tgt, seed=seed
            )
            console.print(f"calibration {cal.target}={cal.value:g}: {cal.parameter} = {cal.setting:g}")
            console.print(f"  on the calibration split: {operating_point(cal.calib)}")
            console.print(f"  on the test split:        {operating_point(cal.test)}")
            out["calibration"] = cal.to_dict()
    if json_out is not None:
        from llmbench.json_safe import dumps

        with _step(f"writing {json_out}"):
            json_out.write_text(dumps(out, indent=2))
    if track:
        params = {
            "target": target or "",
            "test_size": f"{test_size:g}",
            "seed": str(seed),
            "bootstrap": str(bootstrap),
        }
        if cal is not None:
            params[f"chosen_{cal.parameter}"] = f"{cal.setting:g}"
        log_router_command(
            "router eval",
            source,
            router_results(ev, intervals),
            params=params,
            curve=ev.curves.get("router"),
            tables={"per_task": ev.per_task},
        )


def operating_point(point: dict[str, Any] | None) -> str:
    """A calibration's operating point in words, not as a dict."""
    if not point:
        return "n/a"
    return (
        f"quality {point['quality']:.4f} ({point['relative_quality']:.1%} of the best model's), "
        f"${point['cost_per_1k']:.4f} per 1,000 prompts, {point['strong_share']:.1%} to the strongest model"
    )


def _router(latency_weight: float, max_p95: float | None) -> Any:
    from llmbench.router.estimator import RouterEstimator

    return RouterEstimator(latency_weight=latency_weight, max_p95_latency=max_p95)


@contextlib.contextmanager
def _step(what: str) -> Iterator[None]:
    """Run one step after the tables: a failure is reported in one line, never turned into a non-zero exit."""
    try:
        yield
    except Exception as exc:  # the tables above stand; say what failed and go on
        console.print(f"[yellow]{what} failed: {type(exc).__name__}: {quoted(redact(exc))}[/]")
